#include "journal_persistence.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <boost/crc.hpp>
#include <spdlog/spdlog.h>

namespace ykc::bridge {

namespace fs = std::filesystem;

namespace {

// File: magic, then records. Record: u32 LE length of the body, body = op ('P' put, 'R' remove),
// u16 LE key length, key, data; then u32 LE CRC-32 of the body.
constexpr std::string_view magic = "YKCJRNL1";
constexpr std::size_t record_overhead = 4 + 1 + 2 + 4;
constexpr std::uint64_t compact_min_bytes = 4u << 20;

std::uint32_t crc32(std::string_view s) {
    boost::crc_32_type crc;
    crc.process_bytes(s.data(), s.size());
    return crc.checksum();
}

void put_le(std::string& out, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(const char* p, int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
    return v;
}

void encode_record(std::string& out, char op, std::string_view key, std::string_view data) {
    const std::size_t start = out.size();
    put_le(out, 1 + 2 + key.size() + data.size(), 4);
    out.push_back(op);
    put_le(out, key.size(), 2);
    out.append(key);
    out.append(data);
    put_le(out, crc32(std::string_view(out).substr(start + 4)), 4);
}

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

// Paho's command keys: c-<n> (MQTT 3.1.1) and c5-<n> (MQTT 5); the data starts with the
// command type as a native int. nullptr unless it is a SUBSCRIBE or UNSUBSCRIBE.
const char* subscription_command(const std::string& key, const std::string& data) {
    if (key.rfind("c-", 0) != 0 && key.rfind("c5-", 0) != 0) return nullptr;
    std::int32_t type = 0;
    if (data.size() < sizeof type) return nullptr;
    std::memcpy(&type, data.data(), sizeof type);
    return type == 8 ? "SUBSCRIBE" : type == 10 ? "UNSUBSCRIBE" : nullptr;
}

}  // namespace

JournalPersistence::JournalPersistence(fs::path dir) : dir_(std::move(dir)) {}

JournalPersistence::~JournalPersistence() { close(); }

fs::path JournalPersistence::file_for(const fs::path& dir, const std::string& client_id) {
    std::string name;
    for (char c : client_id) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
    return dir / (name + ".journal");
}

void JournalPersistence::open(const std::string& client_id, const std::string& /*server_uri*/) {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) return;
    fs::create_directories(dir_);
    path_ = file_for(dir_, client_id);
    entries_.clear();
    live_bytes_ = 0;
    std::error_code ec;
    if (fs::exists(path_, ec)) load();
    else import_file_store(client_id);  // the first run with a journal
    drop_restored_subscriptions();
    rewrite();  // a clean journal: no torn tail, no removed entries, the imported ones in it
    spdlog::info("mqtt: persistence {}: {} message(s) kept from earlier runs", path_.string(), entries_.size());
}

void JournalPersistence::load() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.compare(0, magic.size(), magic) != 0) {
        if (!all.empty()) spdlog::error("mqtt: persistence {} is not a ykc-bridge journal: ignored", path_.string());
        return;
    }
    std::size_t pos = magic.size(), records = 0;
    while (pos + 4 <= all.size()) {
        const std::size_t len = get_le(all.data() + pos, 4);
        if (len < 3 || pos + 4 + len + 4 > all.size()) break;
        const std::string_view body(all.data() + pos + 4, len);
        if (crc32(body) != get_le(all.data() + pos + 4 + len, 4)) break;
        const std::size_t key_len = get_le(body.data() + 1, 2);
        if (3 + key_len > len) break;
        std::string key(body.substr(3, key_len));
        if (body[0] == 'P') {
            entries_[std::move(key)] = std::string(body.substr(3 + key_len));
        } else if (body[0] == 'R') {
            entries_.erase(key);
        } else {
            break;
        }
        pos += 4 + len + 4;
        ++records;
    }
    if (pos != all.size())
        spdlog::warn("mqtt: persistence {}: {} byte(s) after record {} are torn or corrupt and were cut off", path_.string(),
                     all.size() - pos, records);
}

// Paho's default file store (<dir>/<client id>-<host>-<port>/<key>.msg), used before this
// journal: its messages are taken over so nothing buffered is lost by an upgrade.
void JournalPersistence::import_file_store(const std::string& client_id) {
    std::error_code ec;
    std::vector<fs::path> imported;  // files, then their folder
    std::size_t messages = 0;
    for (const auto& d : fs::directory_iterator(dir_, ec)) {
        const std::string name = d.path().filename().string();
        if (!d.is_directory() || name.rfind(client_id + "-", 0) != 0) continue;
        for (const auto& f : fs::directory_iterator(d.path(), ec)) {
            if (!f.is_regular_file() || f.path().extension() != ".msg") continue;
            std::ifstream in(f.path(), std::ios::binary);
            std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            entries_[f.path().stem().string()] = std::move(data);
            imported.push_back(f.path());
            ++messages;
        }
        imported.push_back(d.path());
    }
    if (imported.empty()) return;
    spdlog::info("mqtt: persistence: took over {} message(s) of Paho's file store in {}", messages, dir_.string());
    rewrite();  // in the journal before the files go
    for (const auto& p : imported) fs::remove(p, ec);
}

// The bridge renews its subscriptions on every connect; a SUBSCRIBE restored from an earlier
// run may name a pile this process does not hold.
void JournalPersistence::drop_restored_subscriptions() {
    for (auto it = entries_.begin(); it != entries_.end();) {
        if (const char* what = subscription_command(it->first, it->second)) {
            spdlog::info("mqtt: dropped a {} persisted by an earlier run ({}): subscriptions are renewed on connect", what, it->first);
            it = entries_.erase(it);
        } else {
            ++it;
        }
    }
}

void JournalPersistence::write_all(int fd, const std::string& bytes) const {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write", path_);
        done += static_cast<std::size_t>(n);
    }
}

void JournalPersistence::rewrite() {
    const fs::path tmp = path_.string() + ".tmp";
    std::string out(magic);
    live_bytes_ = 0;
    for (const auto& [k, v] : entries_) {
        encode_record(out, 'P', k, v);
        live_bytes_ += record_overhead + k.size() + v.size();
    }
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) fail("cannot create", tmp);
    try {
        write_all(fd, out);
        if (::fsync(fd) != 0) fail("cannot sync", tmp);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path_.c_str()) != 0) fail("cannot replace", path_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open", path_);
    file_bytes_ = out.size();
}

void JournalPersistence::append(char op, std::string_view key, std::string_view data) {
    if (fd_ < 0) throw std::runtime_error("persistence is not open");
    if (key.size() > 0xFFFF) throw std::length_error("persistence key too long");
    record_.clear();
    encode_record(record_, op, key, data);
    write_all(fd_, record_);  // one write(2): a record is in the file whole or not at all
    file_bytes_ += record_.size();
}

void JournalPersistence::close() {
    std::lock_guard lock(mu_);
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void JournalPersistence::clear() {
    std::lock_guard lock(mu_);
    entries_.clear();
    if (fd_ >= 0) rewrite();
}

bool JournalPersistence::contains_key(const std::string& key) {
    std::lock_guard lock(mu_);
    return entries_.count(key) != 0;
}

mqtt::string_collection JournalPersistence::keys() const {
    std::lock_guard lock(mu_);
    mqtt::string_collection keys;
    for (const auto& [k, v] : entries_) keys.push_back(k);
    return keys;
}

void JournalPersistence::put(const std::string& key, const std::vector<mqtt::string_view>& bufs) {
    std::string data;
    std::size_t size = 0;
    for (const auto& b : bufs) size += b.size();
    data.reserve(size);
    for (const auto& b : bufs) data.append(b.data(), b.size());
    std::lock_guard lock(mu_);
    append('P', key, data);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
        live_bytes_ -= record_overhead + key.size() + it->second.size();
        it->second = std::move(data);
    } else {
        it = entries_.emplace(key, std::move(data)).first;
    }
    live_bytes_ += record_overhead + key.size() + it->second.size();
}

std::string JournalPersistence::get(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) throw std::out_of_range("no persisted entry " + key);
    return it->second;
}

void JournalPersistence::remove(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    live_bytes_ -= record_overhead + key.size() + it->second.size();
    entries_.erase(it);
    if (entries_.empty()) {
        // nothing live: start the file over (cheaper than a remove record plus a later rewrite)
        if (::ftruncate(fd_, static_cast<off_t>(magic.size())) != 0) fail("cannot truncate", path_);
        file_bytes_ = magic.size();
        return;
    }
    append('R', key, {});
    if (file_bytes_ > compact_min_bytes && file_bytes_ > 4 * live_bytes_) rewrite();
}

std::size_t JournalPersistence::size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
}

std::uint64_t JournalPersistence::file_bytes() const {
    std::lock_guard lock(mu_);
    return file_bytes_;
}

}  // namespace ykc::bridge
