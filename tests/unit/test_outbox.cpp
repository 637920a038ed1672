// Outbox: the MQTT link's order and records without Paho (bridge/outbox.hpp).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "outbox.hpp"

namespace fs = std::filesystem;
using ykc::bridge::Journal;
using ykc::bridge::Outbox;
using Lane = Outbox::Lane;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/ykc-outbox-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

Outbox::Message message(const std::string& topic, const std::string& payload, Lane lane = Lane::control, int qos = 1) {
    Outbox::Message m;
    m.topic = topic;
    m.payload = payload;
    m.qos = qos;
    m.lane = lane;
    return m;
}

// admit + push_back, as the link queues a QoS>=1 publish while it cannot send
void queue(Outbox& o, Outbox::Message m) {
    REQUIRE(o.admit(m).empty());
    o.push_back(std::move(m));
}

// The topics in the order the outbox hands them over, with their payloads ("topic=payload").
std::vector<std::string> drain(Outbox& o) {
    std::vector<std::string> out;
    while (auto m = o.pop()) {
        const auto p = o.payload(*m);
        REQUIRE(p);
        out.push_back(m->topic + "=" + std::string(*p));
    }
    return out;
}

}  // namespace

TEST_CASE("outbox: control before telemetry, each first in first out - what comes back from flight goes in front, in the order sent") {
    Outbox o(nullptr, 100);
    queue(o, message("t1", "a", Lane::telemetry));
    queue(o, message("c1", "b"));
    queue(o, message("t2", "c", Lane::telemetry));
    queue(o, message("c2", "d"));
    CHECK(o.queued() == 4);
    CHECK(drain(o) == std::vector<std::string>{"c1=b", "c2=d", "t1=a", "t2=c"});

    // three sent, the connection ends: they come back in front of what was queued meanwhile
    for (const char* t : {"c3", "c4", "t3"}) queue(o, message(t, t, t[0] == 't' ? Lane::telemetry : Lane::control));
    std::uint64_t id = 1;
    for (int i = 0; i < 3; ++i) {
        auto m = o.pop();
        REQUIRE(o.payload(*m));
        o.sent(id++, std::move(*m));
    }
    queue(o, message("c5", "c5"));
    queue(o, message("t4", "t4", Lane::telemetry));
    CHECK(o.in_flight() == 3);
    CHECK(o.requeue_in_flight().empty());
    CHECK(o.in_flight() == 0);
    CHECK(drain(o) == std::vector<std::string>{"c3=c3", "c4=c4", "c5=c5", "t3=t3", "t4=t4"});
}

TEST_CASE("outbox: every QoS>=1 message is in the journal until it is settled, and the next process restores what is left, in order") {
    TempDir dir;
    const fs::path file = dir.path / "b.journal";
    {
        Outbox o(std::make_unique<Journal>(file), 100);
        auto m = message("ykc/1/transaction", "record-1");
        m.correlation_data = "corr";
        m.retain = true;
        REQUIRE(o.admit(m).empty());
        CHECK(m.payload.empty());  // kept once, in the journal
        CHECK_FALSE(m.key.empty());
        o.push_back(std::move(m));
        queue(o, message("ykc/1/realtime", "rt-1", Lane::telemetry));
        queue(o, message("ykc/1/resp/x", "resp-1"));
        CHECK(o.journaled() == 3);
        // the first is sent and acknowledged: out of the journal
        auto first = o.pop();
        CHECK(first->topic == "ykc/1/transaction");
        CHECK(*o.payload(*first) == "record-1");
        o.sent(7, std::move(*first));
        CHECK_FALSE(o.settle(8));  // not in flight
        auto settled = o.settle(7);
        REQUIRE(settled);
        CHECK(o.forget(settled->key));
        o.flush();
        CHECK(o.journaled() == 2);
    }  // kill -9 here: nothing more is written
    Outbox again(std::make_unique<Journal>(file), 100);
    const auto r = again.restore();
    CHECK(r.kept == 2);
    CHECK(r.unreadable == 0);
    auto a = again.pop();
    REQUIRE(a);
    CHECK(a->topic == "ykc/1/resp/x");  // control first
    CHECK(a->qos == 1);
    CHECK(*again.payload(*a) == "resp-1");
    auto b = again.pop();
    REQUIRE(b);
    CHECK(b->topic == "ykc/1/realtime");
    CHECK(b->lane == Lane::telemetry);
    CHECK(*again.payload(*b) == "rt-1");
    // new keys come after the restored ones
    auto c = message("ykc/1/new", "n");
    REQUIRE(again.admit(c).empty());
    CHECK(c.key > a->key);
    CHECK(c.key > b->key);
    // the correlation data and retain flag survive
    Outbox third(std::make_unique<Journal>(dir.path / "c.journal"), 10);
    auto k = message("t", "p");
    k.correlation_data = "abc";
    k.retain = true;
    REQUIRE(third.admit(k).empty());
    CHECK(Outbox::encode_record(k, "p").substr(0, 3) == std::string("\x00\x01\x01", 3));
}

TEST_CASE("outbox: an unreadable journal record is dropped at restore, a lost one cannot be sent") {
    TempDir dir;
    const fs::path file = dir.path / "b.journal";
    {
        Journal j(file);
        j.put("0000000000000001", std::string("\x05\x01\x00", 3));  // lane 5: not a record of the outbox
        Outbox::Message m = message("ok", "fine");
        j.put("0000000000000002", Outbox::encode_record(m, "fine"));
    }
    Outbox o(std::make_unique<Journal>(file), 10);
    const auto r = o.restore();
    CHECK(r.kept == 1);
    CHECK(r.unreadable == 1);
    CHECK(o.journaled() == 1);
    auto m = o.pop();
    REQUIRE(m);
    m->key = "0000000000000009";  // no such record
    CHECK_FALSE(o.payload(*m));
}

TEST_CASE("outbox: full at mqtt.max_buffered, queued and in flight together - QoS 0 and latest values are not journaled") {
    Outbox o(nullptr, 3);
    queue(o, message("a", "1"));
    queue(o, message("b", "2"));
    auto a = o.pop();
    o.sent(1, std::move(*a));
    queue(o, message("c", "3"));
    auto d = message("d", "4");
    CHECK(o.admit(d) == "the outbox is full (mqtt.max_buffered)");
    CHECK(d.payload == "4");  // left to the caller, with its done
    REQUIRE(o.settle(1));
    CHECK(o.admit(d).empty());
}

TEST_CASE("outbox: a latest value is queued once per topic, with the newest payload - one in flight that comes back yields to a newer") {
    Outbox o(nullptr, 100);
    CHECK_FALSE(o.offer_latest("gun/1/state", "v1"));
    Outbox::Message m = message("gun/1/state", "", Lane::telemetry);
    m.latest = true;
    o.push_back(m);
    CHECK(o.offer_latest("gun/1/state", "v2"));
    CHECK(o.offer_latest("gun/1/state", "v3"));
    CHECK(o.coalesced() == 2);
    CHECK(o.queued() == 1);
    auto sent = o.pop();
    CHECK(*o.payload(*sent) == "v3");
    o.sent(1, std::move(*sent));
    // a newer value comes while v3 is in flight, then the connection ends: v3 is not sent again
    CHECK_FALSE(o.offer_latest("gun/1/state", "v4"));
    o.push_back(m);
    CHECK(o.requeue_in_flight().empty());
    CHECK(drain(o) == std::vector<std::string>{"gun/1/state=v4"});
    // not sent nor queued (QoS 0 while disconnected): the next value is a new one
    CHECK_FALSE(o.offer_latest("gun/2/state", "x"));
    o.drop_latest("gun/2/state");
    CHECK_FALSE(o.offer_latest("gun/2/state", "y"));
}

TEST_CASE("outbox: a message in flight each time five connections end is given up") {
    Outbox o(nullptr, 100);
    queue(o, message("poison", "p"));
    for (int attempt = 1; attempt <= Outbox::max_attempts; ++attempt) {
        CAPTURE(attempt);
        auto m = o.pop();
        REQUIRE(m);
        o.sent(static_cast<std::uint64_t>(attempt), std::move(*m));
        auto up = o.requeue_in_flight();
        if (attempt < Outbox::max_attempts) {
            CHECK(up.empty());
            CHECK(o.queued() == 1);
        } else {
            REQUIRE(up.size() == 1);
            CHECK(up[0].topic == "poison");
            CHECK(up[0].attempts == Outbox::max_attempts);
            CHECK(o.queued() == 0);
        }
    }
    // put back before it was sent (the client said disconnected): no attempt counted
    queue(o, message("later", "l"));
    auto l = o.pop();
    CHECK_FALSE(o.put_back(std::move(*l), false));
    CHECK(o.pop()->attempts == 0);
}
