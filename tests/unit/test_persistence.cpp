// JournalPersistence: Paho's store as an append-only journal (bridge/journal_persistence.hpp).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "journal_persistence.hpp"

namespace fs = std::filesystem;
using ykc::bridge::JournalPersistence;

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

void put(JournalPersistence& p, const std::string& key, const std::string& a, const std::string& b = {}) {
    std::vector<mqtt::string_view> bufs{mqtt::string_view(a)};
    if (!b.empty()) bufs.emplace_back(b);
    p.put(key, bufs);
}

std::vector<std::string> sorted_keys(const JournalPersistence& p) {
    auto k = p.keys();
    std::vector<std::string> v;
    for (std::size_t i = 0; i < k.size(); ++i) v.push_back(k[i]);
    std::sort(v.begin(), v.end());
    return v;
}

std::string slurp(const fs::path& f) {
    std::ifstream in(f, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// A Paho command as its store keeps it: the type as a native int first.
std::string command(std::int32_t type, const std::string& rest) {
    std::string s(reinterpret_cast<const char*>(&type), sizeof type);
    return s + rest;
}

}  // namespace

TEST_CASE("journal persistence: put, get, remove and keys; what was live comes back after a reopen") {
    TempDir d;
    {
        JournalPersistence p(d.path);
        p.open("bridge-1", "tcp://127.0.0.1:1883");
        put(p, "c5-1", "head", "payload one");
        put(p, "c5-2", "two");
        put(p, "s5-7", std::string("\0\x01binary\xff", 10));
        put(p, "c5-2", "two, replaced");
        p.remove("c5-1");
        p.remove("absent");  // Paho may remove what is not there
        CHECK(p.contains_key("c5-2"));
        CHECK_FALSE(p.contains_key("c5-1"));
        CHECK(p.get("c5-2") == "two, replaced");
        CHECK_THROWS(p.get("c5-1"));
        CHECK(sorted_keys(p) == std::vector<std::string>{"c5-2", "s5-7"});
        p.close();
    }
    JournalPersistence again(d.path);
    again.open("bridge-1", "tcp://another-broker:1883");  // the journal follows the client id, not the URL
    CHECK(sorted_keys(again) == std::vector<std::string>{"c5-2", "s5-7"});
    CHECK(again.get("c5-2") == "two, replaced");
    CHECK(again.get("s5-7") == std::string("\0\x01binary\xff", 10));
    JournalPersistence other(d.path);
    other.open("bridge-2", "tcp://127.0.0.1:1883");
    CHECK(other.size() == 0);
}

TEST_CASE("journal persistence: a torn or corrupt tail is cut off, the records before it are kept") {
    TempDir d;
    const fs::path file = JournalPersistence::file_for(d.path, "b");
    {
        JournalPersistence p(d.path);
        p.open("b", "");
        put(p, "c5-1", "first");
        put(p, "c5-2", "second");
    }
    const std::string whole = slurp(file);
    SUBCASE("torn: the last record is missing its last bytes") {
        fs::resize_file(file, whole.size() - 3);
        JournalPersistence p(d.path);
        p.open("b", "");
        CHECK(sorted_keys(p) == std::vector<std::string>{"c5-1"});
        put(p, "c5-3", "after the cut");  // appends after the last whole record
        JournalPersistence q(d.path);
        q.open("b", "");
        CHECK(sorted_keys(q) == std::vector<std::string>{"c5-1", "c5-3"});
    }
    SUBCASE("corrupt: a flipped byte in the last record") {
        std::string bad = whole;
        bad[bad.size() - 6] ^= 0x40;
        std::ofstream(file, std::ios::binary | std::ios::trunc) << bad;
        JournalPersistence p(d.path);
        p.open("b", "");
        CHECK(sorted_keys(p) == std::vector<std::string>{"c5-1"});
        CHECK(p.get("c5-1") == "first");
    }
    SUBCASE("not a journal at all: ignored, not trusted") {
        std::ofstream(file, std::ios::binary | std::ios::trunc) << "garbage that is not a journal";
        JournalPersistence p(d.path);
        p.open("b", "");
        CHECK(p.size() == 0);
    }
}

TEST_CASE("journal persistence: the file stays small - cut back when empty, rewritten when mostly dead") {
    TempDir d;
    JournalPersistence p(d.path);
    p.open("b", "");
    const std::uint64_t empty = p.file_bytes();
    put(p, "c5-1", "x");
    CHECK(p.file_bytes() > empty);
    p.remove("c5-1");
    CHECK(p.file_bytes() == empty);
    // one entry stays live while 20,000 come and go (~10 MB appended): the journal is rewritten
    put(p, "s5-keep", "kept");
    const std::string payload(500, 'p');
    for (int i = 0; i < 20000; ++i) {
        put(p, "c5-" + std::to_string(i), payload);
        p.remove("c5-" + std::to_string(i));
    }
    CHECK(p.file_bytes() < (5u << 20));
    CHECK(p.file_bytes() == fs::file_size(JournalPersistence::file_for(d.path, "b")));
    JournalPersistence q(d.path);
    q.open("b", "");
    CHECK(sorted_keys(q) == std::vector<std::string>{"s5-keep"});
}

TEST_CASE("journal persistence: Paho's file store is taken over once; SUBSCRIBE and UNSUBSCRIBE are dropped") {
    TempDir d;
    const fs::path old = d.path / "bridge-1-127.0.0.1-1883";
    fs::create_directories(old);
    std::ofstream(old / "c5-1.msg", std::ios::binary) << command(3, "a PUBLISH");
    std::ofstream(old / "c5-2.msg", std::ios::binary) << command(8, "ykc/32010200000077/cmd/#");
    std::ofstream(old / "c-3.msg", std::ios::binary) << command(10, "ykc/32010200000077/cmd/#");
    std::ofstream(old / "s5-4.msg", std::ios::binary) << command(8, "an outbound message, not a command");
    fs::create_directories(d.path / "other-client-127.0.0.1-1883");
    std::ofstream(d.path / "other-client-127.0.0.1-1883" / "c5-9.msg", std::ios::binary) << command(3, "not ours");
    {
        JournalPersistence p(d.path);
        p.open("bridge-1", "tcp://127.0.0.1:1883");
        CHECK(sorted_keys(p) == std::vector<std::string>{"c5-1", "s5-4"});
        CHECK(p.get("c5-1") == command(3, "a PUBLISH"));
    }
    CHECK_FALSE(fs::exists(old));
    CHECK(fs::exists(d.path / "other-client-127.0.0.1-1883" / "c5-9.msg"));
    JournalPersistence again(d.path);
    again.open("bridge-1", "tcp://127.0.0.1:1883");
    CHECK(sorted_keys(again) == std::vector<std::string>{"c5-1", "s5-4"});
    again.clear();
    CHECK(again.size() == 0);
    JournalPersistence cleared(d.path);
    cleared.open("bridge-1", "");
    CHECK(cleared.size() == 0);
}
