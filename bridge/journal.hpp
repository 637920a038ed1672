#pragma once
// A durable key -> bytes store as one append-only file, with the live entries in memory: the
// MQTT link's outbox (mqtt_link.hpp) keeps every QoS>=1 publish here until the broker has
// acknowledged it.
//
// Why not Paho's persistence: Paho C's default file store creates and deletes one file per
// message (~1 ms of the bridge's CPU per frame on ext4, bench/RESULTS.md), and Paho C 1.3.12
// re-sends in-flight messages after a reconnect with their topic gone (docs/RELIABILITY.md),
// so the link keeps its own outbox and gives Paho neither persistence nor a session.
//
// A put is one write(2), so it survives kill -9 of the bridge once it returns (not a power cut
// before the kernel writes it back). Removes are buffered and written with the next put, or by
// flush() (the MQTT link calls it after each batch of acknowledgements): a process killed in
// between leaves those entries in the file, and they are sent again (at least once). A torn or
// corrupt tail is cut off at the last whole record when the file is opened, and what came before
// it is kept. The file is rewritten (a temporary file renamed over it) when it grows past four
// times what is live, and cut back to its header when nothing is live.
//
// Not thread-safe: the MQTT link uses it on the io_context thread only.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ykc::bridge {

class Journal {
public:
    // Opens (or creates) `file`, replaying what an earlier process left in it.
    explicit Journal(std::filesystem::path file);
    ~Journal();
    Journal(const Journal&) = delete;
    Journal& operator=(const Journal&) = delete;

    struct Entry {
        std::string_view key, data;
    };
    // Throw std::system_error when the file cannot be written (e.g. the disk is full).
    // In one write(2), with the buffered removes; the journal keeps `data` (moved in) as the live entry.
    void put(std::string_view key, std::string data);
    void remove(std::string_view key);  // buffered until the next put or flush()
    void flush();
    void clear();

    const std::unordered_map<std::string, std::string>& entries() const noexcept { return entries_; }
    // The live entry's data, or null.
    const std::string* get(const std::string& key) const {
        auto it = entries_.find(key);
        return it == entries_.end() ? nullptr : &it->second;
    }
    std::size_t size() const noexcept { return entries_.size(); }
    std::uint64_t file_bytes() const noexcept { return file_bytes_; }
    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void load();
    void append(std::span<const Entry> puts);  // the buffered removes, then these puts
    void rewrite();                            // only the live entries
    void write_all(int fd, std::string_view bytes) const;

    std::filesystem::path path_;
    int fd_ = -1;
    std::unordered_map<std::string, std::string> entries_;
    std::uint64_t live_bytes_ = 0, file_bytes_ = 0;
    std::string pending_;    // remove records not yet written (and the puts being written)
    bool truncate_ = false;  // nothing is live: the file goes back to its header on the next write
};

}  // namespace ykc::bridge
