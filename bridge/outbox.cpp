#include "outbox.hpp"

#include <algorithm>
#include <cstdio>

namespace ykc::bridge {

namespace {

// A journal record read in place (the payload is not copied out: a journaled message's payload
// lives only in the journal until it is sent).
struct Record {
    std::uint8_t lane = 0;
    int qos = 0;
    bool retain = false;
    std::string_view topic, correlation, payload;
};

bool parse_record(std::string_view r, Record& o) {
    if (r.size() < 3) return false;
    o.lane = static_cast<std::uint8_t>(r[0]);
    o.qos = static_cast<unsigned char>(r[1]);
    o.retain = r[2] != 0;
    std::size_t pos = 3;
    for (std::string_view* f : {&o.topic, &o.correlation}) {
        if (pos + 4 > r.size()) return false;
        std::uint32_t n = 0;
        for (int i = 0; i < 4; ++i) n |= std::uint32_t{static_cast<unsigned char>(r[pos + i])} << (8 * i);
        pos += 4;
        if (pos + n > r.size()) return false;
        *f = r.substr(pos, n);
        pos += n;
    }
    o.payload = r.substr(pos);
    return o.lane <= 1 && o.qos >= 1 && o.qos <= 2 && !o.topic.empty();
}

// Journal keys in publish order: 16 hex digits sort as the numbers do.
std::string key_of(std::uint64_t n) {
    char k[17];
    std::snprintf(k, sizeof k, "%016llx", static_cast<unsigned long long>(n));
    return k;
}

}  // namespace

std::string Outbox::encode_record(const Message& m, std::string_view payload) {
    std::string r;
    r.reserve(11 + m.topic.size() + m.correlation_data.size() + payload.size());
    r.push_back(static_cast<char>(m.lane));
    r.push_back(static_cast<char>(m.qos));
    r.push_back(static_cast<char>(m.retain));
    for (const std::string* f : {&m.topic, &m.correlation_data}) {
        const std::uint32_t n = static_cast<std::uint32_t>(f->size());
        for (int i = 0; i < 4; ++i) r.push_back(static_cast<char>((n >> (8 * i)) & 0xFF));
        r += *f;
    }
    r += payload;
    return r;
}

Outbox::Outbox(std::unique_ptr<Journal> journal, std::size_t max_buffered) : journal_(std::move(journal)), max_buffered_(max_buffered) {}

Outbox::Restored Outbox::restore() {
    Restored r;
    if (!journal_) return r;
    std::vector<std::pair<std::string, const std::string*>> kept;
    for (const auto& [k, v] : journal_->entries()) kept.emplace_back(k, &v);
    std::sort(kept.begin(), kept.end());
    for (const auto& [key, record] : kept) {
        Record o;
        if (!parse_record(*record, o)) {
            ++r.unreadable;
            journal_->remove(key);
            continue;
        }
        Message m;
        m.qos = o.qos;
        m.retain = o.retain;
        m.topic = o.topic;
        m.correlation_data = o.correlation;
        m.lane = static_cast<Lane>(o.lane);
        m.key = key;
        lane(m.lane).push_back(std::move(m));
        next_key_ = std::max<std::uint64_t>(next_key_, std::stoull(key, nullptr, 16) + 1);
        ++r.kept;
    }
    return r;
}

std::string Outbox::admit(Message& m) {
    if (queued() + flight_.size() >= max_buffered_) return "the outbox is full (mqtt.max_buffered)";
    if (!journal_) return {};
    // in the journal before this returns (with the buffered removes, one write): the caller may
    // answer the charger next, and what was answered must survive a kill -9
    std::string key = key_of(next_key_++);
    try {
        journal_->put(key, encode_record(m, m.payload));
    } catch (const std::exception& e) {
        return std::string("the outbox journal cannot be written: ") + e.what();
    }
    m.key = std::move(key);
    std::string().swap(m.payload);  // kept once, in the journal, until it is sent
    return {};
}

void Outbox::push_back(Message m) {
    lane(m.lane).push_back(std::move(m));
    peak_ = std::max(peak_, queued());
}

bool Outbox::offer_latest(const std::string& topic, std::string payload) {
    if (auto it = latest_.find(topic); it != latest_.end()) {
        it->second = std::move(payload);  // the queued one goes out with the newest value
        ++coalesced_;
        return true;
    }
    latest_.emplace(topic, std::move(payload));
    return false;
}

void Outbox::drop_latest(const std::string& topic) { latest_.erase(topic); }

std::optional<Outbox::Message> Outbox::pop() {
    auto& l = control_.empty() ? telemetry_ : control_;
    if (l.empty()) return std::nullopt;
    Message m = std::move(l.front());
    l.pop_front();
    return m;
}

std::optional<std::string_view> Outbox::payload(Message& m) {
    if (m.latest) {
        if (auto it = latest_.find(m.topic); it != latest_.end()) {
            m.payload = std::move(it->second);
            latest_.erase(it);
        }
    }
    if (m.key.empty() || !journal_) return std::string_view(m.payload);
    Record o;
    const std::string* record = journal_->get(m.key);
    if (!record || !parse_record(*record, o)) return std::nullopt;
    return o.payload;
}

void Outbox::sent(std::uint64_t id, Message m) { flight_.emplace(id, std::move(m)); }

std::optional<Outbox::Message> Outbox::settle(std::uint64_t id) {
    auto it = flight_.find(id);
    if (it == flight_.end()) return std::nullopt;  // requeued when the connection dropped
    Message m = std::move(it->second);
    flight_.erase(it);
    return m;
}

std::optional<Outbox::Message> Outbox::put_back(Message m, bool was_sent) {
    if (was_sent && ++m.attempts >= max_attempts) return m;
    if (m.latest) {
        if (latest_.count(m.topic)) return std::nullopt;  // a newer value of the topic is queued already
        latest_.emplace(m.topic, std::move(m.payload));
        m.payload.clear();
    }
    lane(m.lane).push_front(std::move(m));
    return std::nullopt;
}

std::vector<Outbox::Message> Outbox::requeue_in_flight() {
    std::vector<Message> given_up;
    for (auto it = flight_.rbegin(); it != flight_.rend(); ++it)
        if (auto m = put_back(std::move(it->second), true)) given_up.push_back(std::move(*m));
    flight_.clear();
    return given_up;
}

bool Outbox::forget(const std::string& key) {
    if (!journal_ || key.empty()) return false;
    journal_->remove(key);
    return true;
}

void Outbox::flush() {
    if (journal_) journal_->flush();
}

}  // namespace ykc::bridge
