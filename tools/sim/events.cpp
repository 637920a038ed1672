#include "events.hpp"

#include <cstdio>

namespace ykc::sim {

std::string dump(const Event& j) { return j.dump(-1, ' ', false, Event::error_handler_t::replace); }

std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

void EventLog::line(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
}

void EventLog::event(const Event& j) {
    const auto name = j.find("event");
    if (wants(name != j.end() && name->is_string() ? name->get_ref<const std::string&>() : std::string_view())) line(dump(j));
}

void EventLog::raw_event(std::string_view event, std::string_view json_text) {
    if (wants(event)) line(json_text);
}

void EventLog::error(Event j) {
    ++stats.errors;
    if (!wants("error")) return;
    Event out = {{"event", "error"}};
    out.update(j);
    line(dump(out));
}

void EventLog::stats_line(bool final) {
    Event j = {
        {"event", "stats"},
        {"connected", stats.connected},
        {"logged_in", stats.logged_in},
        {"frames_in", stats.frames_in},
        {"frames_out", stats.frames_out},
        {"transactions_pending", stats.transactions_pending},
        {"transactions_confirmed", stats.transactions_confirmed},
        {"charging", stats.charging},
        {"sessions", stats.sessions},
        {"connects", stats.connects},
        {"disconnects", stats.disconnects},
        {"errors", stats.errors},
        {"dropped_frames", stats.dropped_frames},
        {"written", Event::object()},
    };
    for (const auto& [type, n] : stats.written) j["written"][type] = n;
    if (final) j["final"] = true;
    line(dump(j));
}

}  // namespace ykc::sim
