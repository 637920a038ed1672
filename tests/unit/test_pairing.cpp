// The pairing engine (bridge/pairing.hpp) on its own: which answer goes to which command or
// request, what a reply to a frame nobody waits for does, and deadlines — no sockets, no broker.
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "pairing.hpp"

using ykc::Seq;
using ykc::bridge::Clock;
using ykc::bridge::Pairing;
using ykc::bridge::Pending;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const std::string pile = "32010200000001";
constexpr std::uint64_t session = 7;

// A command waiting for the charger's `reply`, sent with `data` and sequence number `seq`.
Pending command(const std::string& name, const std::string& reply, std::vector<std::string> match, json data, Seq seq,
                Clock::time_point deadline = Clock::time_point::max()) {
    Pending p;
    p.awaits = Pending::Awaits::charger;
    p.pile = pile;
    p.type = name;
    p.reply = reply;
    p.match = std::move(match);
    p.data = std::move(data);
    p.seq = seq;
    p.session = session;
    p.deadline = deadline;
    return p;
}

// A charger's request waiting for the backend's `reply`.
Pending request(const std::string& type, const std::string& reply, std::vector<std::string> match, json data, Seq seq,
                Clock::time_point deadline = Clock::time_point::max()) {
    Pending p = command(type, reply, std::move(match), std::move(data), seq, deadline);
    p.awaits = Pending::Awaits::backend;
    return p;
}

Pairing engine() { return Pairing(30s, 4); }

}  // namespace

TEST_CASE("pairing: a reply answers the command whose sequence number it echoes, not the oldest") {
    auto p = engine();
    const auto now = Clock::now();
    const auto first = p.add(command("remote_stop", "remote_stop_reply", {"gun"}, {{"gun", 1}}, {0x01, 0x00}));
    const auto second = p.add(command("remote_stop", "remote_stop_reply", {"gun"}, {{"gun", 1}}, {0x02, 0x00}));
    auto a = p.charger_answer(pile, session, "remote_stop_reply", {0x02, 0x00}, {{"gun", 1}, {"result", "success"}}, now);
    REQUIRE(a);
    CHECK(a->command.id == second);
    CHECK(a->mismatch.empty());
    a = p.charger_answer(pile, session, "remote_stop_reply", {0x01, 0x00}, {{"gun", 1}}, now);
    REQUIRE(a);
    CHECK(a->command.id == first);
    CHECK(p.count(Pending::Awaits::charger) == 0);
}

TEST_CASE("pairing: a charger that does not echo - the oldest exact match, then one matched through zeros") {
    auto p = engine();
    const auto now = Clock::now();
    const auto any = p.add(command("balance_update", "balance_update_reply", {"card"}, {{"card", "0000000000000000"}}, {0x01, 0x00}));
    const auto exact = p.add(command("balance_update", "balance_update_reply", {"card"}, {{"card", "1122334455667788"}}, {0x02, 0x00}));
    const json reply = {{"card", "1122334455667788"}, {"result", "success"}};
    auto a = p.charger_answer(pile, session, "balance_update_reply", {0x00, 0x00}, reply, now);
    REQUIRE(a);
    CHECK(a->command.id == exact);
    a = p.charger_answer(pile, session, "balance_update_reply", {0x00, 0x00}, reply, now);
    REQUIRE(a);
    CHECK(a->command.id == any);  // "0000…": whoever is charging
    CHECK_FALSE(p.charger_answer(pile, session, "balance_update_reply", {0x00, 0x00}, reply, now));
}

TEST_CASE("pairing: a reply about something else that echoes a command's sequence number answers it as a mismatch") {
    auto p = engine();
    const auto now = Clock::now();
    p.add(command("remote_start", "remote_start_reply", {"gun", "serial"}, {{"gun", 1}, {"serial", "AA"}}, {0x05, 0x00}));
    const auto a = p.charger_answer(pile, session, "remote_start_reply", {0x05, 0x00}, {{"gun", 2}, {"serial", "AA"}}, now);
    REQUIRE(a);
    CHECK(a->mismatch == std::vector<std::string>{"gun"});
}

TEST_CASE("pairing: a reply of another type, another pile or other fields answers nothing") {
    auto p = engine();
    const auto now = Clock::now();
    p.add(command("remote_stop", "remote_stop_reply", {"gun"}, {{"gun", 1}}, {0x01, 0x00}));
    CHECK_FALSE(p.charger_answer(pile, session, "remote_start_reply", {0x01, 0x00}, {{"gun", 1}}, now));
    CHECK_FALSE(p.charger_answer("32010200000002", session, "remote_stop_reply", {0x01, 0x00}, {{"gun", 1}}, now));
    CHECK_FALSE(p.charger_answer(pile, session, "remote_stop_reply", {0x09, 0x00}, {{"gun", 2}}, now));
    CHECK(p.awaits(pile, "remote_stop_reply"));
    CHECK_FALSE(p.awaits(pile, "remote_start_reply"));
    CHECK(p.count(pile, Pending::Awaits::charger) == 1);
}

TEST_CASE("pairing: a reply echoing a frame no command waits for answers none, and a repeated reply answers nothing more") {
    auto p = engine();
    const auto now = Clock::now();
    // the bridge's own time_sync went out as 0x0009; a backend's time_sync waits as 0x000A
    p.unpaired(session, {0x09, 0x00}, "time_sync_reply", now);
    const auto backend = p.add(command("time_sync", "time_sync_reply", {}, json::object(), {0x0A, 0x00}));
    CHECK_FALSE(p.charger_answer(pile, session, "time_sync_reply", {0x09, 0x00}, json::object(), now));
    // the same sequence number on another session means nothing
    p.unpaired(session, {0x0B, 0x00}, "time_sync_reply", now);
    p.forget_session(session);
    auto a = p.charger_answer(pile, session, "time_sync_reply", {0x0B, 0x00}, json::object(), now);
    REQUIRE(a);
    CHECK(a->command.id == backend);
    // answered by its echo: the same reply again answers the next waiting command no more
    const auto first = p.add(command("time_sync", "time_sync_reply", {}, json::object(), {0x0C, 0x00}));
    p.add(command("time_sync", "time_sync_reply", {}, json::object(), {0x0E, 0x00}));
    a = p.charger_answer(pile, session, "time_sync_reply", {0x0C, 0x00}, json::object(), now);
    REQUIRE(a);
    CHECK(a->command.id == first);
    CHECK_FALSE(p.charger_answer(pile, session, "time_sync_reply", {0x0C, 0x00}, json::object(), now));
    CHECK(p.count(pile, Pending::Awaits::charger) == 1);
}

TEST_CASE("pairing: frames no command waits for are remembered for a while, and only so many") {
    auto p = engine();  // 30 s, 4 per session
    const auto now = Clock::now();
    for (std::uint8_t i = 1; i <= 5; ++i) p.unpaired(session, {i, 0x00}, "reboot_reply", now);
    p.add(command("reboot", "reboot_reply", {}, json::object(), {0x20, 0x00}));
    // the oldest (0x01) was dropped for the fifth: its echo answers the waiting command
    CHECK(p.charger_answer(pile, session, "reboot_reply", {0x01, 0x00}, json::object(), now));
    p.add(command("reboot", "reboot_reply", {}, json::object(), {0x21, 0x00}));
    CHECK_FALSE(p.charger_answer(pile, session, "reboot_reply", {0x02, 0x00}, json::object(), now));
    // after 30 s they are forgotten
    CHECK(p.charger_answer(pile, session, "reboot_reply", {0x03, 0x00}, json::object(), now + 31s));
}

TEST_CASE("pairing: the backend's answer goes to the request its match fields name, and stays until taken") {
    auto p = engine();
    const auto gun1 = p.add(request("card_auth", "card_auth_reply", {"gun"}, {{"gun", 1}, {"card", "01"}}, {0x31, 0x00}));
    const auto gun2 = p.add(request("card_auth", "card_auth_reply", {"gun"}, {{"gun", 2}, {"card", "02"}}, {0x32, 0x00}));
    const auto a = p.add(request("parallel_card_auth", "parallel_card_auth_reply", {"gun", "parallel_id"},
                                 {{"gun", 1}, {"parallel_id", "A"}}, {0x41, 0x00}));
    const auto b = p.add(request("parallel_card_auth", "parallel_card_auth_reply", {"gun", "parallel_id"},
                                 {{"gun", 1}, {"parallel_id", "B"}}, {0x42, 0x00}));
    Pending* w = p.backend_answer(pile, "card_auth_reply", {{"gun", 2}, {"result", "success"}});
    REQUIRE(w);
    CHECK(w->id == gun2);
    CHECK(w->seq == Seq{0x32, 0x00});
    w = p.backend_answer(pile, "parallel_card_auth_reply", {{"gun", 1}, {"parallel_id", "B"}});
    REQUIRE(w);
    CHECK(w->id == b);
    // a field the answer leaves out matches any: the oldest
    w = p.backend_answer(pile, "parallel_card_auth_reply", {{"gun", 1}});
    REQUIRE(w);
    CHECK(w->id == a);
    CHECK_FALSE(p.backend_answer(pile, "card_auth_reply", {{"gun", 3}}));
    CHECK_FALSE(p.backend_answer(pile, "remote_start", {{"gun", 1}}));
    // commands waiting for a charger are not the backend's to answer
    p.add(command("remote_stop", "remote_stop_reply", {"gun"}, {{"gun", 1}}, {0x01, 0x00}));
    CHECK_FALSE(p.backend_answer(pile, "remote_stop_reply", {{"gun", 1}}));
    CHECK(p.count(pile, Pending::Awaits::backend) == 4);
    REQUIRE(p.take(gun1));
    CHECK_FALSE(p.take(gun1));
    CHECK(p.backend_answer(pile, "card_auth_reply", {{"gun", 1}}) == nullptr);
}

TEST_CASE("pairing: expire returns what is due, earliest first, and not what was taken before") {
    auto p = engine();
    const auto t0 = Clock::now();
    CHECK(p.next_deadline() == Clock::time_point::max());
    const auto late = p.add(command("reboot", "reboot_reply", {}, json::object(), {0x01, 0x00}, t0 + 30s));
    const auto early = p.add(request("card_auth", "card_auth_reply", {"gun"}, {{"gun", 1}}, {0x02, 0x00}, t0 + 10s));
    const auto taken = p.add(command("reboot", "reboot_reply", {}, json::object(), {0x03, 0x00}, t0 + 5s));
    p.add(request("transaction", "transaction_reply", {"serial"}, {{"serial", "1"}}, {0x04, 0x00}));  // waits until taken
    CHECK(p.next_deadline() == t0 + 5s);
    REQUIRE(p.take(taken));
    CHECK(p.next_deadline() == t0 + 10s);
    CHECK(p.expire(t0 + 9s).empty());
    auto due = p.expire(t0 + 60s);
    REQUIRE(due.size() == 2);
    CHECK(due[0].id == early);
    CHECK(due[1].id == late);
    CHECK(p.next_deadline() == Clock::time_point::max());
    CHECK(p.count(Pending::Awaits::charger) == 0);
    CHECK(p.count(Pending::Awaits::backend) == 1);
}

TEST_CASE("pairing: take_if takes every entry of a pile that a predicate picks, oldest first") {
    auto p = engine();
    const auto a = p.add(command("reboot", "reboot_reply", {}, json::object(), {0x01, 0x00}, Clock::now() + 30s));
    p.add(request("login", "login_reply", {}, json::object(), {0x02, 0x00}));
    const auto c = p.add(command("remote_stop", "remote_stop_reply", {"gun"}, {{"gun", 1}}, {0x03, 0x00}));
    auto taken = p.take_if(pile, [](const Pending& x) { return x.awaits == Pending::Awaits::charger; });
    REQUIRE(taken.size() == 2);
    CHECK(taken[0].id == a);
    CHECK(taken[1].id == c);
    CHECK(p.next_deadline() == Clock::time_point::max());
    CHECK(p.find_if(pile, [](const Pending& x) { return x.type == "login"; }));
    CHECK(p.take_if(pile, [](const Pending&) { return true; }).size() == 1);
    CHECK(p.take_if(pile, [](const Pending&) { return true; }).empty());
    CHECK(p.count(pile, Pending::Awaits::backend) == 0);
}
