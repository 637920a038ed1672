// billing_model_verify (0x05) and billing_model_request (0x09): answered from the pile's billing
// model in the config (billing, billing_overrides), each with the sequence bytes it came with.
#include "uplink.hpp"

namespace ykc::bridge {

namespace {

class BillingModelAnswers final : public Uplink {
public:
    explicit BillingModelAnswers(Platform& p) : p_(p) {}

    bool handles(const Message& m) const override { return m.name == "billing_model_verify" || m.name == "billing_model_request"; }

    void on_frame(const SessionPtr& s, const Frame& frame, const Message& m, const nlohmann::json& env, std::string text) override {
        const std::string& pile = s->pile.number;
        p_.publish_frame(pile, m.topic, std::move(text), p_.config().mqtt.qos);
        const auto& billing = p_.config().billing_for(pile);
        if (m.name == "billing_model_request") return p_.send(s, m.reply, billing.to_data(), frame.seq());
        const std::string have = env["data"]["model_id"];
        p_.send(s, m.reply, {{"model_id", have}, {"result", have == billing.model_id ? "match" : "mismatch"}}, frame.seq());
    }

private:
    Platform& p_;
};

}  // namespace

std::string billing_model_note(const Message& m) {
    if (m.name == "billing_model_verify") return "The bridge answers it from the configured billing model.";
    if (m.name == "billing_model_request") return "The bridge answers it with the configured billing model.";
    return "";
}

std::unique_ptr<Uplink> billing_model_uplink(Platform& p) { return std::make_unique<BillingModelAnswers>(p); }

}  // namespace ykc::bridge
