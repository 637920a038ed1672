#include "journal.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <zlib.h>

namespace ykc::bridge {

namespace fs = std::filesystem;

namespace {

// File: magic, then records. Record: u32 LE length of the body, body = op ('P' put, 'R' remove),
// u16 LE key length, key, data; then u32 LE CRC-32 of the body.
constexpr std::string_view magic = "YKCJRNL1";
constexpr std::size_t record_overhead = 4 + 1 + 2 + 4;
constexpr std::uint64_t compact_min_bytes = 4u << 20;

// CRC-32 (IEEE, as zlib and Boost's crc_32_type compute it): zlib's is ~6x faster than a
// byte-wise table, and every QoS>=1 publish checksums its record
std::uint32_t checksum(std::string_view s) {
    return static_cast<std::uint32_t>(::crc32_z(0, reinterpret_cast<const Bytef*>(s.data()), s.size()));
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
    put_le(out, checksum(std::string_view(out).substr(start + 4)), 4);
}

[[noreturn]] void fail(const std::string& what, const fs::path& path) {
    throw std::system_error(errno, std::generic_category(), what + " " + path.string());
}

}  // namespace

Journal::Journal(fs::path file) : path_(std::move(file)) {
    if (path_.has_parent_path()) fs::create_directories(path_.parent_path());
    std::error_code ec;
    if (fs::exists(path_, ec)) load();
    rewrite();  // a clean file: no torn tail, no removed entries
}

Journal::~Journal() {
    try {
        flush();
    } catch (const std::exception& e) {
        spdlog::error("journal {}: {}", path_.string(), e.what());
    }
    if (fd_ >= 0) ::close(fd_);
}

void Journal::load() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    const std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (all.compare(0, magic.size(), magic) != 0) {
        if (!all.empty()) spdlog::error("journal {} is not a ykc-bridge journal: ignored", path_.string());
        return;
    }
    std::size_t pos = magic.size(), records = 0;
    while (pos + 4 <= all.size()) {
        const std::size_t len = get_le(all.data() + pos, 4);
        if (len < 3 || pos + 4 + len + 4 > all.size()) break;
        const std::string_view body(all.data() + pos + 4, len);
        if (checksum(body) != get_le(all.data() + pos + 4 + len, 4)) break;
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
        spdlog::warn("journal {}: {} byte(s) after record {} are torn or corrupt and were cut off", path_.string(), all.size() - pos,
                     records);
}

void Journal::write_all(int fd, std::string_view bytes) const {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) fail("cannot write", path_);
        done += static_cast<std::size_t>(n);
    }
}

void Journal::rewrite() {
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
    pending_.clear();  // the new file holds exactly what is live
    truncate_ = false;
    if (fd_ >= 0) ::close(fd_);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open", path_);
    file_bytes_ = out.size();
}

// The buffered removes and then these puts, in one write(2): in the file whole or not at all.
void Journal::append(std::span<const Entry> puts) {
    if (fd_ < 0) throw std::runtime_error("journal is not open");
    for (const auto& e : puts)
        if (e.key.size() > 0xFFFF) throw std::length_error("persistence key too long");
    if (truncate_) {
        if (::ftruncate(fd_, static_cast<off_t>(magic.size())) != 0) fail("cannot truncate", path_);
        file_bytes_ = magic.size();
        truncate_ = false;
    }
    const std::size_t removes = pending_.size();
    for (const auto& e : puts) encode_record(pending_, 'P', e.key, e.data);
    if (pending_.empty()) return;
    try {
        write_all(fd_, pending_);
    } catch (...) {
        if (::ftruncate(fd_, static_cast<off_t>(file_bytes_)) != 0) {}  // no half record before the next one
        pending_.resize(removes);                                       // the removes wait for the next write; the puts failed
        throw;
    }
    file_bytes_ += pending_.size();
    pending_.clear();
}

void Journal::flush() {
    if (fd_ >= 0 && (truncate_ || !pending_.empty())) append({});
}

void Journal::clear() {
    entries_.clear();
    rewrite();
}

void Journal::put(std::string_view key, std::string data) {
    const Entry e{key, data};
    append({&e, 1});
    auto [it, added] = entries_.try_emplace(std::string(key));
    if (!added) live_bytes_ -= record_overhead + key.size() + it->second.size();
    live_bytes_ += record_overhead + key.size() + data.size();
    it->second = std::move(data);
}

void Journal::remove(std::string_view key) {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return;
    live_bytes_ -= record_overhead + key.size() + it->second.size();
    entries_.erase(it);
    if (entries_.empty()) {
        // nothing live: the file starts over (cheaper than remove records plus a later rewrite)
        pending_.clear();
        truncate_ = true;
        return;
    }
    encode_record(pending_, 'R', key, {});
    if (file_bytes_ + pending_.size() > compact_min_bytes && file_bytes_ + pending_.size() > 4 * live_bytes_) rewrite();
}

}  // namespace ykc::bridge
