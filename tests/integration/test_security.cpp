// The bridge against a Mosquitto that wants TLS, a client certificate, a password and obeys
// docs/mosquitto/acl: the deployment the docs recommend for a broker reachable from outside.
#include "harness.hpp"

using namespace it;

namespace {

void sh(const std::string& command) {
    INFO(command);
    REQUIRE(std::system(("(" + command + ") >/dev/null 2>&1").c_str()) == 0);
}

// A CA made for the test, a server certificate for 127.0.0.1 and client certificates.
struct Pki {
    TempDir dir;
    std::string path(const std::string& name) const { return dir.path() + "/" + name; }
    Pki() {
        const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        sh("cd " + dir.path() + " && openssl req -x509 " + ec + " -keyout ca.key -out ca.crt -days 2 -subj /CN=ykc-test-ca");
        issue("server", "subjectAltName=IP:127.0.0.1,DNS:localhost");
        issue("bridge", "extendedKeyUsage=clientAuth");
        issue("backend", "extendedKeyUsage=clientAuth");
        // a certificate from a CA the broker does not trust
        sh("cd " + dir.path() + " && openssl req -x509 " + ec + " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca");
    }
    void issue(const std::string& name, const std::string& ext) {
        std::ofstream(path(name + ".ext")) << ext << "\n";
        sh("cd " + dir.path() + " && openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout " + name + ".key -out " +
           name + ".csr -subj /CN=" + name + " && openssl x509 -req -in " + name +
           ".csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out " + name + ".crt -extfile " + name + ".ext");
    }
};

// Mosquitto with TLS + client certificates + passwords + the ACL from docs/.
struct SecureBroker {
    Pki& pki;
    std::unique_ptr<Mosquitto> broker;
    explicit SecureBroker(Pki& p) : pki(p) {
        sh("mosquitto_passwd -b -c " + pki.path("passwd") + " ykc-bridge bridge-secret");
        sh("mosquitto_passwd -b " + pki.path("passwd") + " backend backend-secret");
        sh("mosquitto_passwd -b " + pki.path("passwd") + " homeassistant ha-secret");
        sh("cp " + std::string(YKC_SOURCE_DIR) + "/docs/mosquitto/acl " + pki.path("acl"));
        // mosquitto started as root reads its files as the user "mosquitto"
        sh("chmod -R a+rX " + pki.dir.path());
        broker =
            std::make_unique<Mosquitto>(0, "allow_anonymous false\npassword_file " + pki.path("passwd") + "\nacl_file " + pki.path("acl") +
                                               "\ncafile " + pki.path("ca.crt") + "\ncertfile " + pki.path("server.crt") + "\nkeyfile " +
                                               pki.path("server.key") + "\nrequire_certificate true\nuse_identity_as_username false\n");
    }
    std::string url() const { return "ssl://127.0.0.1:" + std::to_string(broker->port); }
    // the backend's connection: its certificate, its user
    Subscriber::Tune backend(const std::string& user = "backend", const std::string& password = "backend-secret") const {
        return [this, user, password](mqtt::connect_options_builder& o) {
            o.user_name(user).password(password).ssl(mqtt::ssl_options_builder()
                                                         .trust_store(pki.path("ca.crt"))
                                                         .key_store(pki.path("backend.crt"))
                                                         .private_key(pki.path("backend.key"))
                                                         .finalize());
        };
    }
    // the bridge's options; no password_file when empty
    std::vector<std::string> bridge_args(const std::string& password_file, const std::string& ca = "ca.crt") const {
        std::vector<std::string> args = {"--set", "mqtt.username=ykc-bridge",
                                         "--set", "mqtt.tls.ca_file=" + pki.path(ca),
                                         "--set", "mqtt.tls.cert_file=" + pki.path("bridge.crt"),
                                         "--set", "mqtt.tls.key_file=" + pki.path("bridge.key"),
                                         "--set", "mqtt.reconnect_min=1",
                                         "--set", "mqtt.reconnect_max=1"};
        if (!password_file.empty()) args.insert(args.end(), {"--set", "mqtt.password_file=" + password_file});
        return args;
    }
};

}  // namespace

TEST_CASE("TLS, client certificate, password and the docs' ACL: the bridge serves, the backend may only command") {
    Pki pki;
    SecureBroker broker(pki);
    std::ofstream(pki.path("bridge-password")) << "bridge-secret\n";
    Subscriber backend(broker.url(), "ykc/#", false, broker.backend());
    Subscriber ha(broker.url(), "homeassistant/#", false, broker.backend("homeassistant", "ha-secret"));
    auto args = broker.bridge_args(pki.path("bridge-password"));
    args.insert(args.end(), {"--set", "homeassistant.enabled=true"});
    Bridge bridge(broker.url(), args, "", 0);
    REQUIRE_MESSAGE(backend.wait(
                        "ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }, 10000ms),
                    bridge.read_log());

    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(backend.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    // Home Assistant discovery passes the ACL (a refused publish would drop the bridge's connection)
    const auto configs = ha.wait_prefix("homeassistant/", [](const auto& rs) { return rs.size() >= 10; });
    CHECK(configs.size() >= 10);
    CHECK(std::any_of(configs.begin(), configs.end(), [](const Received& r) { return r.topic.find("ykc_" + pile) != std::string::npos; }));
    CHECK(std::any_of(configs.begin(), configs.end(), [](const Received& r) { return r.topic.find("/ykc_bridge_") != std::string::npos; }));
    c.send("realtime", idle_realtime(230));
    CHECK(backend.wait("ykc/" + pile + "/gun/1/state", [](const Received& r) { return r.j()["voltage"] == 230; }));

    // the backend's command reaches the charger through the ACL, the answer comes back
    backend.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"tls-1","mode":"immediate"})");
    auto req = c.receive_type("reboot");
    REQUIRE(req);
    c.send("reboot_reply", {{"result", "success"}}, (*req)["seq"]);
    auto resp = backend.wait("ykc/" + pile + "/resp/reboot");
    REQUIRE(resp);
    CHECK(resp->j()["status"] == "ok");

    // the backend cannot forge uplink data: the broker refuses it. (A connection of its own:
    // Paho C 1.3.12 drops a connection that gets a PUBACK "not authorized", see DEPENDENCIES.)
    {
        Subscriber forger(broker.url(), "ykc/bridge/state", true, broker.backend());
        try {
            forger.publish("ykc/" + pile + "/transaction", R"({"forged":true})");
        } catch (const mqtt::exception&) {}
    }
    CHECK_NOTHROW(backend.publish("ykc/" + pile + "/cmd/reboot", R"({"id":"tls-2","mode":"immediate"})"));  // a marker after it
    REQUIRE(c.receive_type("reboot"));
    CHECK(backend.count_on("ykc/" + pile + "/transaction") == 0);
}

TEST_CASE(
    "a wrong password or an untrusted broker certificate: no MQTT, named in the log, chargers still served - unless verification is off") {
    Pki pki;
    SecureBroker broker(pki);
    Subscriber backend(broker.url(), "ykc/#", false, broker.backend());
    SUBCASE("wrong password") {
        std::ofstream(pki.path("wrong-password")) << "not-the-password\n";
        Bridge bridge(broker.url(), broker.bridge_args(pki.path("wrong-password")), "", 0);
        Charger c(bridge.port, pile);
        c.login();  // the charger side does not depend on the broker
        c.send("heartbeat", {{"gun", 1}, {"gun_status", "normal"}});
        CHECK(c.receive_type("heartbeat_reply"));
        CHECK(!backend.wait("ykc/bridge/state", {}, 1500ms));
        const std::string log = bridge.read_log();
        CHECK_MESSAGE(log.find("authoriz") != std::string::npos, log);  // "not authorized" from the broker
    }
    SUBCASE("broker certificate not signed by the configured CA") {
        std::ofstream(pki.path("bridge-password")) << "bridge-secret\n";
        Bridge bridge(broker.url(), broker.bridge_args(pki.path("bridge-password"), "other-ca.crt"), "", 0);
        Charger c(bridge.port, pile);
        c.login();
        CHECK(!backend.wait("ykc/bridge/state", {}, 1500ms));
        CHECK(!backend.wait("ykc/" + pile + "/availability", {}, 100ms));
    }
    SUBCASE("the same certificate with mqtt.tls.verify false: connected, with a warning in the log") {
        std::ofstream(pki.path("bridge-password")) << "bridge-secret\n";
        auto args = broker.bridge_args(pki.path("bridge-password"), "other-ca.crt");
        args.insert(args.end(), {"--set", "mqtt.tls.verify=false"});
        Bridge bridge(broker.url(), args, "", 0);
        REQUIRE_MESSAGE(backend.wait(
                            "ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }, 10000ms),
                        bridge.read_log());
        CHECK(bridge.read_log().find("the broker's certificate is not verified (mqtt.tls.verify false)") != std::string::npos);
        Charger c(bridge.port, pile);
        c.login();
        CHECK(backend.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    }
}

TEST_CASE("secrets from the environment and from files: the bridge connects and never logs them") {
    Pki pki;
    // the bridge's key protected by a passphrase, given in a file
    sh("cd " + pki.dir.path() + " && openssl pkey -in bridge.key -aes256 -passout pass:key-passphrase-42 -out bridge-encrypted.key");
    std::ofstream(pki.path("key-passphrase")) << "key-passphrase-42\n";
    SecureBroker broker(pki);
    Subscriber backend(broker.url(), "ykc/#", false, broker.backend());
    std::vector<std::string> args = broker.bridge_args("");  // the password comes from YKC_MQTT_PASSWORD
    args.insert(args.end(), {"--set", "mqtt.tls.key_file=" + pki.path("bridge-encrypted.key"), "--set",
                             "mqtt.tls.key_password_file=" + pki.path("key-passphrase")});
    Bridge bridge(broker.url(), args, "", 0, {"YKC_MQTT_PASSWORD=bridge-secret"});  // --log-level debug
    REQUIRE_MESSAGE(backend.wait(
                        "ykc/bridge/state", [](const Received& r) { return has_state(r, "online"); }, 10000ms),
                    bridge.read_log());
    Charger c(bridge.port, pile);
    c.login();
    REQUIRE(backend.wait("ykc/" + pile + "/availability", [](const Received& r) { return has_state(r, "online"); }));
    CHECK_MESSAGE(bridge.proc->stop() == 0, bridge.read_log());  // the log has a sanitizer report, if any
    const std::string log = bridge.read_log();
    CHECK(log.find("bridge-secret") == std::string::npos);
    CHECK(log.find("key-passphrase-42") == std::string::npos);
    CHECK(log.find("YKC_MQTT_PASSWORD") == std::string::npos);
}
