#pragma once
// Paho's persistence store as one append-only journal file per client id, with the live entries
// in memory.
//
// Why: Paho C's default file persistence creates and deletes one file per QoS>=1 message (and
// per QoS 0 one); on ext4 that was ~1 ms of the bridge's CPU per frame and bounded the bridge
// at a sixth of the broker's rate (bench/RESULTS.md). Here a put or a remove is one write(2)
// of one record, so the cost is a syscall; reads come from memory.
//
// Durability is the same as Paho's file store: a record is in the kernel once put() returns,
// so it survives kill -9 of the bridge (not a power cut before the kernel writes it back).
// A torn or corrupt tail (power cut, full disk) is cut off at the last whole record when the
// journal is opened, and what came before it is kept.
//
// The journal is named after the client id only (not the broker's URL like Paho's store), so
// what was buffered for a broker is not orphaned when its address changes in config.yaml. When
// a journal grows past four times what is live, it is rewritten (to a temporary file, then
// renamed over it); when nothing is live it is cut back to its header.
//
// Threads: Paho calls the store from its own threads and from the caller of publish(); every
// method takes the one mutex.
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <mqtt/iclient_persistence.h>

namespace ykc::bridge {

class JournalPersistence : public mqtt::iclient_persistence {
public:
    explicit JournalPersistence(std::filesystem::path dir);
    ~JournalPersistence() override;
    JournalPersistence(const JournalPersistence&) = delete;
    JournalPersistence& operator=(const JournalPersistence&) = delete;

    void open(const std::string& client_id, const std::string& server_uri) override;
    void close() override;
    void clear() override;
    bool contains_key(const std::string& key) override;
    mqtt::string_collection keys() const override;
    void put(const std::string& key, const std::vector<mqtt::string_view>& bufs) override;
    std::string get(const std::string& key) const override;
    void remove(const std::string& key) override;

    // The journal file of `client_id` in `dir`.
    static std::filesystem::path file_for(const std::filesystem::path& dir, const std::string& client_id);

    std::size_t size() const;            // live entries
    std::uint64_t file_bytes() const;    // current journal length

private:
    void load();                                   // replays the journal into entries_
    void import_file_store(const std::string& client_id);  // entries Paho's file store left here
    void drop_restored_subscriptions();
    void append(char op, std::string_view key, std::string_view data);
    void rewrite();                                // compaction: only the live entries
    void write_all(int fd, const std::string& bytes) const;

    mutable std::mutex mu_;
    std::filesystem::path dir_, path_;
    int fd_ = -1;
    std::unordered_map<std::string, std::string> entries_;
    std::uint64_t live_bytes_ = 0, file_bytes_ = 0;
    std::string record_;  // reused buffer of append()
};

}  // namespace ykc::bridge
