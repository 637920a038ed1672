// Card and VIN start requests (0x31, 0xA1): forwarded to the backend, refused when it is silent.
#include "harness.hpp"

using namespace it;

namespace {
// The bridge's own refusal of a card request (policies.card_auth_timeout): a 0x32 failure that
// echoes `seq`. Returns it.
json expect_card_refusal(Charger& c, const std::string& seq) {
    auto refused = c.receive_type("card_auth_reply", 4000ms);
    REQUIRE(refused);
    CHECK((*refused)["seq"] == seq);
    CHECK((*refused)["data"]["result"] == "failure");
    return *refused;
}

}  // namespace

TEST_CASE("card auth is forwarded - without an answer the charger gets a refusal, never silence") {
    OnlinePile o(std::vector<std::string>{"--set", "policies.card_auth_timeout=1"});
    auto& [broker, sub, bridge, c] = o;
    const json swipe = {{"gun", 1},           {"start_mode", "card"}, {"password_required", false},
                        {"card", "D14B0A54"}, {"password", ""},       {"vin", ""}};
    c.send("card_auth", swipe, "0400");
    REQUIRE(sub.wait("ykc/" + pile + "/card_auth"));
    // an invalid answer (no balance) is refused and leaves the request waiting for a valid one
    sub.publish("ykc/" + pile + "/cmd/card_auth_reply",
                json({{"id", "bad"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"result", "success"}}).dump());
    auto bad = sub.wait("ykc/" + pile + "/resp/card_auth_reply", [](const Received& r) { return r.j()["id"] == "bad"; });
    REQUIRE(bad);
    CHECK(bad->j()["status"] == "invalid");
    CHECK(bad->j()["error"].get<std::string>().find("balance") != std::string::npos);
    sub.publish(
        "ykc/" + pile + "/cmd/card_auth_reply",
        json({{"id", "auth"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"balance", 88.8}, {"result", "success"}})
            .dump());
    auto ok = c.receive_type("card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0400");  // echoes the request
    CHECK((*ok)["data"]["result"] == "success");
    CHECK((*ok)["data"]["balance"].dump() == "88.8");
    c.send("card_auth", swipe, "0500");
    expect_card_refusal(c, "0500");
}

TEST_CASE("card auth sent again while the backend decides: one answer, to the newest, and no refusal after it") {
    OnlinePile online({"--set", "policies.card_auth_timeout=1"});
    auto& sub = online.sub;
    auto& c = online.c;
    const json swipe = {{"gun", 1},           {"start_mode", "card"}, {"password_required", false},
                        {"card", "D14B0A54"}, {"password", ""},       {"vin", ""}};
    c.send("card_auth", swipe, "0400");
    c.send("card_auth", swipe, "0500");  // the same swipe again
    REQUIRE(sub.wait_all("ykc/" + pile + "/card_auth", [](const std::vector<Received>& v) { return v.size() >= 2; }).size() == 2);
    sub.publish(
        "ykc/" + pile + "/cmd/card_auth_reply",
        json({{"id", "auth"}, {"serial", serial}, {"gun", 1}, {"logical_card", "1000000573"}, {"balance", 88.8}, {"result", "success"}})
            .dump());
    auto ok = c.receive_type("card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0500");
    CHECK((*ok)["data"]["result"] == "success");
    auto resp = sub.wait("ykc/" + pile + "/resp/card_auth_reply");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    // the first request's time runs out (1 s) without a refusal: the charger hears one answer
    CHECK(!c.receive_type("card_auth_reply", 2500ms));
    CHECK(sub.count_on("ykc/" + pile + "/error") == 0);
    // another card on the same gun is a request of its own, refused when nobody answers it
    json other = swipe;
    other["card"] = "E14C0A54";
    c.send("card_auth", other, "0600");
    expect_card_refusal(c, "0600");
}

TEST_CASE("card auth from a gun byte that is not BCD: the refusal carries the byte as it came, never silence") {
    OnlinePile online({"--set", "policies.card_auth_timeout=1"});
    auto& c = online.c;
    c.send("card_auth",
           {{"gun", "1A"}, {"start_mode", "card"}, {"password_required", false}, {"card", "D14B0A54"}, {"password", ""}, {"vin", ""}},
           "0700");
    CHECK(expect_card_refusal(c, "0700")["data"]["gun"] == "1A");
}

namespace {
// A 0xA1 start request by VIN for `gun`, and the backend's 0xA2 answer accepting it.
json parallel_swipe(int gun, const char* role, const char* parallel_id) {
    return json{{"gun", gun},
                {"start_mode", "vin"},
                {"password_required", false},
                {"card", "0"},
                {"password", ""},
                {"vin", "LSVAU2180N2183294"},
                {"role", role},
                {"parallel_id", parallel_id}};
}
std::string parallel_accept(const char* id, int gun, const char* parallel_id) {
    return json({{"id", id},
                 {"serial", serial},
                 {"gun", gun},
                 {"logical_card", "1000000573"},
                 {"balance", 120},
                 {"result", "success"},
                 {"parallel_id", parallel_id}})
        .dump();
}
}  // namespace

TEST_CASE("parallel card auth 0xA1 is forwarded per gun - the gun without an answer gets a 0xA2 refusal") {
    OnlinePile o(std::vector<std::string>{"--set", "policies.card_auth_timeout=1"});
    auto& [broker, sub, bridge, c] = o;
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103000"), "0600");
    c.send("parallel_card_auth", parallel_swipe(2, "auxiliary", "241124103000"), "0601");
    auto req = sub.wait("ykc/" + pile + "/parallel_card_auth", [](const Received& r) { return r.j()["data"]["gun"] == 2; });
    REQUIRE(req);
    CHECK(req->j()["data"]["vin"] == "LSVAU2180N2183294");
    CHECK(req->j()["data"]["role"] == "auxiliary");
    // the backend answers gun 1 only
    sub.publish("ykc/" + pile + "/cmd/parallel_card_auth_reply", parallel_accept("pa", 1, "241124103000"));
    auto ok = c.receive_type("parallel_card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0600");
    CHECK((*ok)["data"]["gun"] == 1);
    CHECK((*ok)["data"]["result"] == "success");
    CHECK((*ok)["data"]["parallel_id"] == "241124103000");
    auto resp = sub.wait("ykc/" + pile + "/resp/parallel_card_auth_reply");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");
    auto refused = c.receive_type("parallel_card_auth_reply", 4000ms);
    REQUIRE(refused);
    CHECK((*refused)["seq"] == "0601");
    CHECK((*refused)["data"]["gun"] == 2);
    CHECK((*refused)["data"]["result"] == "failure");
    CHECK((*refused)["data"]["parallel_id"] == "241124103000");
}

TEST_CASE("parallel card auth: the answer goes to the request with its parallel id, also when one gun has two") {
    OnlinePile o(std::vector<std::string>{"--set", "policies.card_auth_timeout=2"});
    auto& [broker, sub, bridge, c] = o;
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103000"), "0700");
    c.send("parallel_card_auth", parallel_swipe(1, "main", "241124103100"), "0701");  // the charger tried again, with a new id
    REQUIRE(sub.wait("ykc/" + pile + "/parallel_card_auth", [](const Received& r) { return r.j()["seq"] == "0701"; }));
    sub.publish("ykc/" + pile + "/cmd/parallel_card_auth_reply", parallel_accept("p2", 1, "241124103100"));
    auto ok = c.receive_type("parallel_card_auth_reply");
    REQUIRE(ok);
    CHECK((*ok)["seq"] == "0701");
    CHECK((*ok)["data"]["parallel_id"] == "241124103100");
    auto refused = c.receive_type("parallel_card_auth_reply", 5000ms);  // the first one, at its timeout
    REQUIRE(refused);
    CHECK((*refused)["seq"] == "0700");
    CHECK((*refused)["data"]["parallel_id"] == "241124103000");
    CHECK((*refused)["data"]["result"] == "failure");
}
