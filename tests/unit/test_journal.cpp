// Journal: the MQTT link's outbox on disk (bridge/journal.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <csignal>
#include <sys/resource.h>

#include "journal.hpp"

namespace fs = std::filesystem;
using ykc::bridge::Journal;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/ykc-journal-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::vector<std::string> sorted_keys(const Journal& j) {
    std::vector<std::string> v;
    for (const auto& [k, d] : j.entries()) v.push_back(k);
    std::sort(v.begin(), v.end());
    return v;
}

std::string slurp(const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST_CASE("journal: put, replace and remove - what was live comes back after a reopen") {
    TempDir d;
    const fs::path file = d.path / "sub" / "bridge-1.journal";
    {
        Journal j(file);
        j.put("0001", "payload one");
        j.put("0002", "two");
        j.put("0003", std::string("\0\x01"
                                  "binary\xff",
                                  9));
        j.put("0002", "two, replaced");
        j.remove("0001");
        j.remove("absent");
        CHECK(sorted_keys(j) == std::vector<std::string>{"0002", "0003"});
        CHECK(j.entries().at("0002") == "two, replaced");
        REQUIRE(j.get("0002") != nullptr);  // what the MQTT link sends a journaled message from
        CHECK(*j.get("0002") == "two, replaced");
        CHECK(j.get("0001") == nullptr);
    }
    Journal again(file);
    CHECK(sorted_keys(again) == std::vector<std::string>{"0002", "0003"});
    CHECK(again.entries().at("0002") == "two, replaced");
    CHECK(again.entries().at("0003") == std::string("\0\x01"
                                                    "binary\xff",
                                                    9));
    again.clear();
    CHECK(Journal(file).size() == 0);
}

TEST_CASE("journal: a torn or corrupt tail is cut off, the records before it are kept") {
    TempDir d;
    const fs::path file = d.path / "b.journal";
    {
        Journal j(file);
        j.put("0001", "first");
        j.put("0002", "second");
    }
    const std::string whole = slurp(file);
    SUBCASE("torn: the last record is missing its last bytes") {
        fs::resize_file(file, whole.size() - 3);
        Journal j(file);
        CHECK(sorted_keys(j) == std::vector<std::string>{"0001"});
        j.put("0003", "after the cut");  // appended after the last whole record
        CHECK(sorted_keys(Journal(file)) == std::vector<std::string>{"0001", "0003"});
    }
    SUBCASE("corrupt: a flipped byte in the last record") {
        std::string bad = whole;
        bad[bad.size() - 6] ^= 0x40;
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bad;
        Journal j(file);
        CHECK(sorted_keys(j) == std::vector<std::string>{"0001"});
        CHECK(j.entries().at("0001") == "first");
    }
    SUBCASE("not a journal at all: ignored, not trusted") {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << "garbage that is not a journal";
        CHECK(Journal(file).size() == 0);
    }
}

TEST_CASE("journal: the file stays small - cut back when empty, rewritten when mostly dead") {
    TempDir d;
    const fs::path file = d.path / "b.journal";
    Journal j(file);
    const std::uint64_t empty = j.file_bytes();
    j.put("0001", "x");
    CHECK(j.file_bytes() > empty);
    j.remove("0001");
    j.flush();
    CHECK(j.file_bytes() == empty);
    // one entry stays live while 20,000 come and go (~10 MB appended): the file is rewritten
    j.put("keep", "kept");
    const std::string payload(500, 'p');
    for (int i = 0; i < 20000; ++i) {
        j.put(std::to_string(i), payload);
        j.remove(std::to_string(i));
    }
    j.flush();
    CHECK(j.file_bytes() < (5u << 20));
    CHECK(j.file_bytes() == fs::file_size(file));
    CHECK(sorted_keys(Journal(file)) == std::vector<std::string>{"keep"});
}

// What a process started now would find, without touching the file (a Journal opened on it
// may rewrite it): a copy is opened.
std::vector<std::string> keys_now(const fs::path& file) {
    const fs::path copy = file.string() + ".copy";
    fs::copy_file(file, copy, fs::copy_options::overwrite_existing);
    auto keys = sorted_keys(Journal(copy));
    fs::remove(copy);
    return keys;
}

TEST_CASE("journal: removes are written with the next put or by flush - until then a reader of the file still sees them") {
    TempDir d;
    const fs::path file = d.path / "r.journal";
    Journal j(file);
    j.put("a", "1");
    j.put("b", "2");
    j.put("c", "3");
    j.remove("a");
    CHECK(j.size() == 2);
    // what a process killed now would leave: "a" is sent again (at least once, never lost)
    CHECK(keys_now(file) == std::vector<std::string>{"a", "b", "c"});
    j.put("d", "4");  // one write: the remove of "a", then "d"
    CHECK(keys_now(file) == std::vector<std::string>{"b", "c", "d"});
    j.remove("b");
    j.remove("c");
    j.flush();
    CHECK(keys_now(file) == std::vector<std::string>{"d"});
    CHECK(j.file_bytes() == fs::file_size(file));
    // the last one gone: the file is cut back to its header on the flush
    j.remove("d");
    const auto before = fs::file_size(file);
    j.flush();
    CHECK(fs::file_size(file) < before);
    CHECK(j.file_bytes() == fs::file_size(file));
    CHECK(keys_now(file).empty());
    // and a journal closed with removes buffered writes them
    {
        Journal k(d.path / "k.journal");
        k.put("x", "1");
        k.put("y", "2");
        k.remove("x");
    }
    CHECK(sorted_keys(Journal(d.path / "k.journal")) == std::vector<std::string>{"y"});
}

TEST_CASE("journal: a put that cannot be written leaves the buffered removes for the next write") {
    TempDir d;
    const fs::path file = d.path / "f.journal";
    Journal j(file);
    j.put("a", "1");
    j.put("b", "2");
    j.remove("a");  // buffered
    // the file may not grow (as on a full disk): the next write fails
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_FSIZE, &old) == 0);
    auto* previous = std::signal(SIGXFSZ, SIG_IGN);
    rlimit small = old;
    small.rlim_cur = static_cast<rlim_t>(fs::file_size(file));
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &small) == 0);
    CHECK_THROWS(j.put("c", std::string(100, 'c')));
    REQUIRE(::setrlimit(RLIMIT_FSIZE, &old) == 0);
    std::signal(SIGXFSZ, previous);
    CHECK(j.entries().count("c") == 0);
    CHECK(j.file_bytes() == fs::file_size(file));  // nothing half-written stays
    // the remove of "a" was not lost with the failed put: it goes with the next one
    j.put("d", "4");
    CHECK(keys_now(file) == std::vector<std::string>{"b", "d"});
}
