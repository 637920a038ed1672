// Writes the seed corpora and the JSON dictionary for the fuzz targets (run by scripts/fuzz.sh):
//   <out>/frame/  control byte + stream: every frame of tests/fixtures/*.tsv, one synthetic frame
//                 per catalogue message, a stream mixing them with garbage, bad CRCs and bad lengths
//   <out>/json/   for fuzz_json: each downlink message's selector byte + its decoded data, and whole
//                 decoded envelopes (the fixtures' frames and the synthetic ones)
//   <out>/json.dict  the catalogue's message, field and enum names as JSON strings and keys
// Usage: ykc_fuzz_seeds <fixtures dir> <out dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ykc/codec.hpp"
#include "ykc/frame.hpp"
#include "ykc/hex.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write(const fs::path& path, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write(const fs::path& path, const std::string& text) { write(path, std::vector<std::uint8_t>(text.begin(), text.end())); }

std::vector<std::vector<std::uint8_t>> tsv_frames(const fs::path& file) {
    std::vector<std::vector<std::uint8_t>> out;
    std::ifstream in(file);
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        if (header) {
            header = false;
            continue;
        }
        std::stringstream ss(line);
        std::string type, hex;
        std::getline(ss, type, '\t');
        std::getline(ss, hex, '\t');
        if (auto b = ykc::parse_hex_loose(hex, nullptr)) out.push_back(*b);
    }
    return out;
}

// A frame of message m whose body decodes: zeros (count bytes 0, times null), `extra` bytes after.
std::vector<std::uint8_t> synthetic(const ykc::Message& m, std::size_t extra) {
    std::vector<std::uint8_t> body(m.fixed_size + extra, 0);
    static const std::uint8_t pile[7] = {0x32, 0x01, 0x02, 0x00, 0x00, 0x00, 0x01};
    if (m.pile_offset >= 0)
        for (std::size_t i = 0; i < 7; ++i) body[static_cast<std::size_t>(m.pile_offset) + i] = pile[i];
    for (std::size_t i = m.fixed_size; i < body.size(); ++i) body[i] = static_cast<std::uint8_t>(i * 37);
    return ykc::write_frame(m.code, {0x00, 0x01}, 0, body);
}

std::string dict_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') out += '\\', out += static_cast<char>(c);
        else if (c < 0x20 || c >= 0x7F) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else out += static_cast<char>(c);
    }
    return out + "\"";
}

void field_names(const std::vector<ykc::Field>& fields, std::set<std::string>& names) {
    for (const auto& f : fields) {
        names.insert(f.name);
        if (f.enums)
            for (const auto& [code, name] : f.enums->entries) names.insert(name);
        field_names(f.fields, names);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: ykc_fuzz_seeds <fixtures dir> <out dir>\n";
        return 2;
    }
    const fs::path fixtures = argv[1], out = argv[2];
    fs::remove_all(out / "frame");
    fs::remove_all(out / "json");
    fs::create_directories(out / "frame");
    fs::create_directories(out / "json");
    const ykc::Codec codec;
    const auto& cat = codec.catalogue();

    std::vector<std::vector<std::uint8_t>> frames;
    for (const char* name : {"real-frames.tsv", "other-vectors.tsv"})
        for (auto& f : tsv_frames(fixtures / name)) frames.push_back(std::move(f));
    for (const auto& m : cat.messages()) {
        frames.push_back(synthetic(m, 0));
        if (m.variable) frames.push_back(synthetic(m, 20));
    }

    // frame seeds: the control byte varies (whole, chunked, flushing, CRC repair) over the seeds
    int n = 0;
    const std::uint8_t controls[] = {0x00, 0x81, 0x07, 0x45, 0x8C, 0x80, 0x20, 0xCF};
    std::vector<std::uint8_t> stream = {0x00, 0xFF, 0xFF};
    for (const auto& f : frames) {
        std::vector<std::uint8_t> seed = {controls[n % 8]};
        seed.insert(seed.end(), f.begin(), f.end());
        char name[32];
        std::snprintf(name, sizeof name, "seed-%03d", n++);
        write(out / "frame" / name, seed);
        if (n % 9 == 0) {  // a stream: some frames, each followed by noise of some kind
            stream.insert(stream.end(), f.begin(), f.end());
            switch (n % 4) {
                case 0: stream.push_back(0x68), stream.push_back(0x02); break;                            // impossible length
                case 1: stream.insert(stream.end(), f.begin(), f.end() - 1), stream.push_back(0); break;  // bad CRC
                case 2: stream.push_back(0x68), stream.push_back(0xF0), stream.push_back(0x00); break;    // stray start byte
                case 3: stream.push_back(0x42); break;                                                    // garbage
            }
        }
    }
    write(out / "frame" / "stream-whole", stream);
    stream[0] = 0x05;
    write(out / "frame" / "stream-chunked", stream);
    stream[0] = 0x43;
    write(out / "frame" / "stream-flushed", stream);
    stream[0] = 0x80;
    write(out / "frame" / "stream-repaired", stream);

    // json seeds
    std::vector<const ykc::Message*> down;
    for (const auto& m : cat.messages())
        if (m.direction == ykc::Direction::down) down.push_back(&m);
    n = 0;
    std::set<std::string> written;
    for (const auto& f : frames) {
        ykc::FrameReader r;
        r.feed(f);
        r.finish();
        auto e = r.next();
        if (!e || !std::holds_alternative<ykc::Frame>(*e)) continue;
        json env;
        try {
            env = codec.decode(std::get<ykc::Frame>(*e).view());
        } catch (const ykc::DecodeError&) {
            continue;
        }
        const std::string text = env.dump();
        if (!written.insert(text).second) continue;
        char name[32];
        std::snprintf(name, sizeof name, "envelope-%03d", n);
        write(out / "json" / name, text);
        for (std::size_t i = 0; i < down.size(); ++i) {
            if (down[i]->name != env["type"]) continue;
            std::snprintf(name, sizeof name, "data-%03d", n);
            write(out / "json" / name, std::string(1, static_cast<char>(i)) + env["data"].dump());
        }
        ++n;
    }

    // dictionary: names as strings and as keys
    std::set<std::string> names;
    for (const auto& m : cat.messages()) {
        names.insert(m.name);
        field_names(m.fields, names);
    }
    std::ofstream dict(out / "json.dict");
    dict << "# generated by ykc_fuzz_seeds from the built-in catalogue\n";
    for (const auto& s : names) {
        dict << dict_string("\"" + s + "\"") << "\n";
        dict << dict_string("\"" + s + "\":") << "\n";
    }
    std::cout << "ykc_fuzz_seeds: " << frames.size() + 4 << " frame seeds, " << written.size() << " envelopes, " << names.size()
              << " dictionary names in " << out.string() << "\n";
    return 0;
}
