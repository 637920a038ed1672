// The command line: ykc-bridge decode / encode / catalogue / health, run as a real process.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>

#include "support.hpp"

using test::json;

namespace {

const std::string bin = YKC_BRIDGE_BIN;
const std::string heartbeat = "680D0300000300624100001201010075FA";
const std::string login = "6822000000011000100100000101010F312E31302E323300010000000000000000000004D1AA";

}  // namespace

TEST_CASE("decode: arguments with spaces, 0x prefixes, and several frames in one argument") {
    auto r = test::run(bin +
                       " decode '68 0D 03 00 00 03 00 62 41 00 00 12 01 01 00 75 FA' "
                       "'0x68,0x0D,0x03,0x00,0x00,0x03,0x00,0x62,0x41,0x00,0x00,0x12,0x01,0x01,0x00,0x75,0xFA' " +
                       heartbeat + login);
    CHECK(r.status == 0);
    auto out = test::lines(r.out);
    REQUIRE(out.size() == 4);
    CHECK(out[0] == R"({"pile":"00624100001201","type":"heartbeat","code":"0x03","seq":"0300","data":{"gun":1,"gun_status":"normal"}})");
    CHECK(out[1] == out[0]);
    CHECK(out[2] == out[0]);
    CHECK(json::parse(out[3])["type"] == "login");
}

TEST_CASE("decode: one line of standard input per capture - a failing frame prints an error line and exits 1") {
    std::string bad = heartbeat;
    bad[bad.size() - 1] = 'B';
    auto r = test::run(bin + " decode", heartbeat + "\n" + bad + "\n\n" + test::build("0000 00 3F 0102") + "\nnot hex\n" + login + "\n");
    CHECK(r.status == 1);
    auto out = test::lines(r.out);
    REQUIRE(out.size() == 5);
    CHECK(json::parse(out[0])["type"] == "heartbeat");
    CHECK(json::parse(out[1])["error"].get<std::string>().find("bad CRC") == 0);
    CHECK(json::parse(out[1])["hex"] == bad);
    CHECK(json::parse(out[2]) == json({{"error", "unknown frame type 0x3F"}, {"hex", test::build("0000 00 3F 0102")}}));
    CHECK(json::parse(out[3])["error"].get<std::string>().find("not hex") == 0);
    CHECK(json::parse(out[4])["type"] == "login");
}

TEST_CASE("decode | encode prints every valid frame back unchanged") {
    std::string input, expected;
    for (const auto& row : test::tsv("real-frames.tsv"))
        if (row.note.find("weekday") == std::string::npos) input += row.hex + "\n";  // else re-encoded with weekday 0
    for (const auto& row : test::tsv("other-vectors.tsv")) {
        if (row.crc_ok != "yes" || row.length_ok != "yes") continue;
        try {  // vendor types and simulated V1.5 layouts do not decode: not this test's business
            test::codec().encode(test::decode(row.hex));
        } catch (const ykc::DecodeError&) {
            continue;
        } catch (const ykc::EncodeError& e) {
            // the only vector outside the spec's ranges: a simulated 0x52 asking for 240 % power
            CHECK(row.hex == "680D020000522023121200001000F04D1C");
            CHECK(std::string(e.what()) == "work_params_set: field max_power: out of range (30 … 100 %): 240");
            continue;
        }
        input += row.hex + "\n";
    }
    CHECK(test::lines(input).size() >= 60);
    auto decoded = test::run(bin + " decode", input);
    CHECK(decoded.status == 0);
    auto r = test::run(bin + " decode | " + bin + " encode", input);
    CHECK(r.status == 0);
    for (auto& c : input) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    CHECK(test::lines(r.out) == test::lines(input));
}

TEST_CASE("encode: an invalid line prints an error naming message and field, exit 1") {
    const std::string good = R"({"type":"remote_stop","pile":"32010200000001","seq":"0003","data":{"gun":1}})";
    auto r =
        test::run(bin + " encode",
                  good + "\n{\"type\":\"remote_stop\",\"pile\":\"32010200000001\",\"data\":{\"gun\":\"x\"}}\nnonsense\n" + good + "\n");
    CHECK(r.status == 1);
    auto out = test::lines(r.out);
    REQUIRE(out.size() == 4);
    CHECK(out[0] == test::build("0003 00 36 32010200000001 01"));
    auto e = json::parse(out[1]);
    CHECK(e["message"] == "remote_stop");
    CHECK(e["field"] == "gun");
    CHECK(json::parse(out[2])["error"].get<std::string>().find("not JSON") == 0);
    CHECK(out[3] == out[0]);
}

TEST_CASE("--utc-offset sets the zone of times") {
    const std::string t = test::build("00DF 00 56 55031412782305 98B70E11100314");
    CHECK(json::parse(test::run(bin + " decode " + t).out)["data"]["time"] == "2020-03-16T17:14:47+08:00");
    CHECK(json::parse(test::run(bin + " decode --utc-offset +00:00 " + t).out)["data"]["time"] == "2020-03-16T17:14:47Z");
    CHECK(json::parse(test::run(bin + " decode --utc-offset=-5 " + t).out)["data"]["time"] == "2020-03-16T17:14:47-05:00");
    // encode converts a time given in another zone into the chargers' zone
    auto r =
        test::run(bin + " encode", R"({"type":"time_sync","pile":"55031412782305","seq":"00DF","data":{"time":"2020-03-16T09:14:47Z"}})"
                                   "\n");
    CHECK(test::lines(r.out) == std::vector<std::string>{t});
    CHECK(test::run(bin + " decode --utc-offset 99 " + t).status == 2);
}

TEST_CASE("usage errors exit 2") {
    CHECK(test::run(bin + " frobnicate 2>/dev/null").status == 2);
    CHECK(test::run(bin + " decode --bogus 2>/dev/null").status == 2);
    CHECK(test::run(bin + " 2>/dev/null >/dev/null").status == 2);
    CHECK(test::run(bin + " --help").status == 0);
}

TEST_CASE("--catalogue overlays a vendor file - a broken file is reported with its line") {
    const std::string path = "/tmp/ykc-test-overlay.yaml";
    {
        std::ofstream f(path);
        f << "messages:\n  - code: 0x3F\n    name: vendor_status\n    direction: up\n    fields:\n"
             "      - {name: pile, type: bcd, size: 7}\n      - {name: power, type: uint, size: 2, scale: 1}\n";
    }
    auto r = test::run(bin + " decode --catalogue " + path + " " + test::build("0000 00 3F 32010200000001 E803"));
    CHECK(r.status == 0);
    CHECK(json::parse(r.out)["data"]["power"] == 100);
    {
        std::ofstream f(path);
        f << "messages:\n  - code: 0x3F\n    name: vendor_status\n    direction: sideways\n    fields: []\n";
    }
    auto e = test::run(bin + " decode --catalogue " + path + " " + heartbeat + " 2>&1");
    CHECK(e.status == 2);
    CHECK(e.out.find(path + ":4: message vendor_status: direction is up") != std::string::npos);
    std::remove(path.c_str());
}

TEST_CASE("docs/messages.md is the output of ykc-bridge catalogue") {
    std::ifstream f(std::string(YKC_SOURCE_DIR) + "/docs/messages.md");
    REQUIRE(f.good());
    std::stringstream ss;
    ss << f.rdbuf();
    auto r = test::run(bin + " catalogue");
    CHECK(r.status == 0);
    CHECK_MESSAGE(r.out == ss.str(), "docs/messages.md is stale: run `build/bridge/ykc-bridge catalogue > docs/messages.md`");
}

namespace {

// A listening TCP socket on a free loopback port, closed on destruction.
struct Listener {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    int port = 0;
    Listener() {
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        REQUIRE(::listen(fd, 4) == 0);
        socklen_t len = sizeof a;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
        port = ntohs(a.sin_port);
    }
    ~Listener() { ::close(fd); }
};

}  // namespace

TEST_CASE("health: 0 while the configured charger port accepts, 1 once nothing listens, 2 on a bad option") {
    const std::string config = "/tmp/ykc-test-health.yaml";
    std::ofstream(config) << "listen:\n  address: 0.0.0.0\n  port: 1\n";  // the wildcard is tried on 127.0.0.1
    int port = 0;
    {
        Listener l;
        port = l.port;
        const std::string p = std::to_string(port);
        auto r = test::run(bin + " health -c " + config + " --listen 127.0.0.1:" + p);
        CHECK(r.status == 0);
        CHECK(r.out == "ykc-bridge health: 127.0.0.1:" + p + " accepts connections\n");
        // the container's way: the port from the environment, the address from the file
        auto e = test::run("YKC_LISTEN_PORT=" + p + " " + bin + " health -c " + config);
        CHECK(e.status == 0);
        CHECK(e.out.find("127.0.0.1:" + p + " accepts") != std::string::npos);
    }
    auto closed = test::run(bin + " health -c " + config + " --listen 127.0.0.1:" + std::to_string(port) + " 2>&1");
    CHECK(closed.status == 1);
    CHECK(closed.out.find("127.0.0.1:" + std::to_string(port) + ": ") != std::string::npos);
    CHECK(test::run(bin + " health -c " + config + " --bogus 2>/dev/null").status == 2);
    std::remove(config.c_str());
}
