// Which bridge holds a pile when several share a broker (bridge/ownership.hpp), without a broker:
// claims, a pile that moves, late messages, commands, and claims left by a crash.
#include <doctest/doctest.h>

#include <string>

#include "ownership.hpp"

using ykc::bridge::Ownership;
using Verdict = Ownership::Verdict;
using Route = Ownership::Route;
using namespace std::chrono_literals;

namespace {
const std::string pile = "32010200000001";
const auto t0 = Ownership::Clock::now();
const auto never = Ownership::Clock::time_point::max();
bool none_held(const std::string&) { return false; }
}  // namespace

TEST_CASE("ownership: a pile that moves to another bridge - the lower claim is lost, its offline is not published") {
    Ownership a("bridge-a"), b("bridge-b");
    const auto ca = a.claim(pile, 1000, t0);
    CHECK(a.seen(pile, "bridge-a", ca, true, ca, never) == Verdict::none);  // its own echo
    CHECK(b.seen(pile, "bridge-a", ca, true, 0, never) == Verdict::none);
    CHECK(b.route(pile, 0, t0) == Route::silent);  // bridge-a holds it
    // the charger comes back through bridge-b, whose clock is behind: the claim is still higher
    const auto cb = b.claim(pile, 500, t0);
    CHECK(cb > ca);
    CHECK(b.route(pile, cb, t0) == Route::silent);  // until the broker has its claim
    CHECK(a.seen(pile, "bridge-b", cb, true, ca, never) == Verdict::lost);
    CHECK_FALSE(a.highest(pile, ca));  // so no offline over bridge-b's online
    CHECK(a.holder(pile) == "bridge-b");
    CHECK(a.route(pile, ca, t0) == Route::silent);
    CHECK(a.route(pile, 0, t0) == Route::silent);
    CHECK(b.seen(pile, "bridge-b", cb, true, cb, never) == Verdict::none);
    CHECK(b.route(pile, cb, t0) == Route::execute);
}

TEST_CASE("ownership: a lower claim's offline that arrives late makes the holder publish its own again") {
    Ownership a("bridge-a"), b("bridge-b");
    const auto ca = a.claim(pile, 1000, t0);
    b.seen(pile, "bridge-a", ca, true, 0, never);
    const auto cb = b.claim(pile, 2000, t0);
    CHECK(b.seen(pile, "bridge-b", cb, true, cb, never) == Verdict::none);
    CHECK(b.seen(pile, "bridge-a", ca, false, cb, never) == Verdict::reassert);
    CHECK(b.highest(pile, cb));
    // a claim of the same number from another bridge: the greater name holds
    Ownership c("bridge-c");
    c.seen(pile, "bridge-b", cb, true, 0, never);
    CHECK(c.holder(pile) == "bridge-b");
    c.seen(pile, "bridge-a", cb, true, 0, never);
    CHECK(c.holder(pile) == "bridge-b");
}

TEST_CASE("ownership: one bridge alone executes at once, and answers offline for a pile it does not hold") {
    Ownership a("bridge-a");
    CHECK(a.route(pile, 0, t0) == Route::offline);  // never seen
    const auto c1 = a.claim(pile, 1000, t0);
    CHECK(a.route(pile, c1, t0) == Route::execute);  // no other bridge had it: no wait for the echo
    CHECK(a.seen(pile, "bridge-a", c1, false, 0, never) == Verdict::none);
    CHECK(a.route(pile, 0, t0) == Route::offline);
    // its next session's claim is higher, whatever the clock says
    const auto c2 = a.claim(pile, 10, t0);
    CHECK(c2 > c1);
    // an older ykc-bridge's availability (no bridge, no claim) counts as this bridge's while it
    // has seen no other bridge, and as nobody's known once it has
    Ownership b("bridge-b");
    b.seen(pile, "", 0, true, 0, never);
    CHECK(b.route(pile, 0, t0) == Route::offline);
    b.seen("32010200000002", "bridge-c", 5, false, 0, never);
    b.seen("32010200000003", "", 0, true, 0, t0 + 10s);
    CHECK(b.holder("32010200000003") == "?");
    CHECK(b.route("32010200000003", 0, t0) == Route::silent);
    CHECK(b.next_orphan() == Ownership::Clock::time_point::max());
}

TEST_CASE("ownership: a higher claim that does not hold the pile - an offline, or this bridge's own - is claimed over, not obeyed") {
    Ownership a("bridge-a");
    const auto ca = a.claim(pile, 1000, t0);
    a.seen(pile, "bridge-a", ca, true, ca, never);
    // bridge-b's session came and went before bridge-a saw its online: only its offline arrives
    CHECK(a.seen(pile, "bridge-b", ca + 50, false, ca, never) == Verdict::reclaim);
    const auto again = a.claim(pile, 1001, t0);
    CHECK(again > ca + 50);
    CHECK(a.seen(pile, "bridge-a", again, true, again, never) == Verdict::none);
    // its own claim from before a restart, higher than this one (the clock stepped back)
    CHECK(a.seen(pile, "bridge-a", again + 100, true, again, never) == Verdict::reclaim);
}

TEST_CASE("ownership: a claim that never echoes executes after the wait") {
    Ownership a("bridge-a"), b("bridge-b");
    b.seen(pile, "bridge-a", 1000, true, 0, never);
    const auto cb = b.claim(pile, 2000, t0);
    CHECK(b.route(pile, cb, t0 + 1s) == Route::silent);
    CHECK(b.route(pile, cb, t0 + Ownership::echo_wait) == Route::execute);
}

TEST_CASE("ownership: an online left by a crash is offline after the grace period, unless the pile came back or another bridge took it") {
    Ownership a("bridge-a");
    const auto grace = t0 + 10s;
    a.seen("32010200000001", "bridge-a", 100, true, 0, grace);   // left online
    a.seen("32010200000002", "bridge-a", 200, true, 0, grace);   // comes back
    a.seen("32010200000003", "bridge-a", 300, true, 0, grace);   // taken by bridge-b
    a.seen("32010200000004", "bridge-a", 400, false, 0, grace);  // offline already
    a.seen("32010200000005", "", 0, true, 0, grace);             // an older ykc-bridge's, when it was alone
    a.seen("32010200000006", "bridge-a", 600, true, 0, never);   // seen after the grace period: not an orphan
    CHECK(a.next_orphan() == grace);
    a.claim("32010200000002", 1000, t0);
    a.seen("32010200000003", "bridge-b", 301, true, 0, grace);
    CHECK(a.orphans_due(t0 + 9s, none_held).empty());
    CHECK(a.next_orphan() == grace);
    const auto due = a.orphans_due(t0 + 10s, none_held);
    REQUIRE(due.size() == 2);
    CHECK(due[0].pile == "32010200000001");
    CHECK(due[0].claim == 100);
    CHECK(due[1].pile == "32010200000005");
    CHECK(a.next_orphan() == Ownership::Clock::time_point::max());
    CHECK(a.orphans_due(t0 + 20s, none_held).empty());
}

TEST_CASE("ownership: another bridge's will - its online piles are offline on its behalf, now and later, until it is online again") {
    Ownership a("bridge-a"), b("bridge-b");
    const std::string other = "32010200000002", mine = "32010200000003";
    const auto ca = a.claim(pile, 1000, t0);
    CHECK(b.seen(pile, "bridge-a", ca, true, 0, never) == Verdict::none);
    CHECK(b.seen(other, "bridge-a", 900, false, 0, never) == Verdict::none);  // already offline
    const auto cb = b.claim(mine, 1000, t0);
    CHECK(b.seen(mine, "bridge-b", cb, true, cb, never) == Verdict::none);
    CHECK(b.route(pile, 0, t0) == Route::silent);
    // bridge-a's will: only its online pile, under its own name and claim
    auto left = b.bridge_state("bridge-a", false).left;
    REQUIRE(left.size() == 1);
    CHECK(left[0].pile == pile);
    CHECK(left[0].claim == ca);
    CHECK(b.route(pile, 0, t0) == Route::offline);  // a command for it is answered now
    CHECK(b.route(mine, cb, t0) == Route::execute);
    CHECK(b.bridge_state("bridge-a", false).left.empty());  // said once
    // the echo of the offline published on its behalf changes nothing
    CHECK(b.seen(pile, "bridge-a", ca, false, 0, never) == Verdict::none);
    // a retained online of bridge-a that arrives after its will: abandoned too
    const std::string late = "32010200000004";
    CHECK(b.seen(late, "bridge-a", 700, true, 0, never) == Verdict::abandoned);
    CHECK(b.route(late, 0, t0) == Route::offline);
    // the pile logs in here: nobody else can answer its commands, so they are executed at once
    const auto back = b.claim(pile, 1200, t0);
    CHECK(b.route(pile, back, t0) == Route::execute);
    CHECK(b.seen(pile, "bridge-b", back, true, back, never) == Verdict::none);
    // bridge-a, which had only lost the broker and still holds the pile in its view, puts its online back
    CHECK(a.seen(pile, "bridge-a", ca, false, ca, never) == Verdict::reassert);
    CHECK(b.bridge_state("bridge-a", true).left.empty());
    CHECK(b.seen(late, "bridge-a", 1300, true, 0, never) == Verdict::none);
    CHECK(b.route(late, 0, t0) == Route::silent);
    // this bridge's own state, or one without a name (an older ykc-bridge), changes nothing
    CHECK(b.bridge_state("bridge-b", false).left.empty());
    CHECK(b.bridge_state("", false).left.empty());
    CHECK(b.route(mine, cb, t0) == Route::execute);
}

TEST_CASE("ownership: a pile nobody holds is answered offline by one bridge - its last claimant if alive, else the least name") {
    Ownership a("bridge-a"), b("bridge-b");
    const std::string unknown = "32010200000009";
    // alone, each answers
    CHECK(a.route(unknown, 0, t0) == Route::offline);
    CHECK(b.route(unknown, 0, t0) == Route::offline);
    // they meet through ykc/bridge/state: each says so once (and publishes its own state again)
    CHECK(a.bridge_state("bridge-b", true).met);
    CHECK(b.bridge_state("bridge-a", true).met);
    CHECK_FALSE(a.bridge_state("bridge-b", true).met);
    CHECK(a.route(unknown, 0, t0) == Route::offline);  // the least name answers
    CHECK(b.route(unknown, 0, t0) == Route::silent);
    CHECK(b.responder(unknown) == "bridge-a");
    CHECK(a.responder(unknown).empty());
    // a pile whose last claim (offline now) is bridge-b's: bridge-b answers
    const auto cb = b.claim(pile, 1000, t0);
    for (Ownership* o : {&a, &b}) o->seen(pile, "bridge-b", cb, false, 0, never);
    CHECK(b.route(pile, 0, t0) == Route::offline);
    CHECK(a.route(pile, 0, t0) == Route::silent);
    // bridge-b is gone: bridge-a answers for both
    CHECK(a.bridge_state("bridge-b", false).left.empty());  // nothing online to publish offline
    CHECK(a.route(pile, 0, t0) == Route::offline);
    CHECK(a.route(unknown, 0, t0) == Route::offline);
    // an older ykc-bridge's claim ("?"): never alive, so the least alive name answers
    CHECK(a.seen(unknown, "", 5, false, 0, never) == Verdict::none);
    CHECK(a.route(unknown, 0, t0) == Route::offline);
    // peers: whether another bridge is alive (offline answers then wait)
    CHECK_FALSE(a.peers());
    CHECK(b.peers());
}

TEST_CASE("ownership: an offline answer that waited is dropped when another bridge's claim from before the command holds the pile") {
    Ownership a("bridge-a");
    const std::string p = "32010200000010";
    CHECK_FALSE(a.executed_elsewhere(p, 2000));  // nobody holds it
    CHECK(a.seen(p, "bridge-b", 1500, true, 0, never) == Verdict::none);
    CHECK(a.executed_elsewhere(p, 2000));        // logged in at 1500, the command came at 2000
    CHECK_FALSE(a.executed_elsewhere(p, 1000));  // the command came before that login
    CHECK(a.seen(p, "bridge-b", 1500, false, 0, never) == Verdict::none);
    CHECK_FALSE(a.executed_elsewhere(p, 2000));  // offline again
}
