// Frame -> JSON text, straight into a string: no intermediate DOM, so a compiled catalogue plan
// costs what a hand-written decoder would.
#include <charconv>
#include <cstdio>
#include <cstring>

#include "ykc/codec.hpp"
#include "ykc/cp56.hpp"
#include "ykc/decimal.hpp"
#include "ykc/hex.hpp"
#include "ykc/reference.hpp"

namespace ykc {

DecodeError::DecodeError(Kind k, std::uint8_t c, std::string m, std::string f, const std::string& what)
    : std::runtime_error(what), kind(k), code(c), message(std::move(m)), field(std::move(f)) {}

Codec::Codec(std::shared_ptr<const Catalogue> catalogue, CodecOptions options) : catalogue_(std::move(catalogue)), options_(options) {}

namespace {

std::uint64_t read_le(const std::uint8_t* p, unsigned n) noexcept {
    std::uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) v = v << 8 | p[i];
    return v;
}

// The decoder's output: a stack buffer, flushed into the string when full and at the end. Writes
// are plain stores after one room() check per item, where std::string::push_back/append cost a
// call, a capacity check and (append) a memcpy each.
class Sink {
public:
    static constexpr std::size_t capacity = 2048;  // > the largest item: 251 bytes as \u00XX

    explicit Sink(std::string& out) : out_(out) {}
    Sink(const Sink&) = delete;
    Sink& operator=(const Sink&) = delete;

    // Room for n more characters at the returned pointer; commit with done(end).
    char* room(std::size_t n) {
        if (static_cast<std::size_t>(buf_ + capacity - p_) < n) flush();
        return p_;
    }
    void done(char* end) { p_ = end; }
    void put(char c) { *room(1) = c, ++p_; }
    void write(const char* s, std::size_t n) {
        if (n > capacity) {  // never for catalogue keys and names; kept correct anyway
            flush();
            out_.append(s, n);
            return;
        }
        char* d = room(n);
        std::memcpy(d, s, n);
        p_ = d + n;
    }
    void write(const std::string& s) { write(s.data(), s.size()); }
    template <std::size_t N>
    void lit(const char (&s)[N]) {
        write(s, N - 1);
    }
    void flush() {
        out_.append(buf_, static_cast<std::size_t>(p_ - buf_));
        p_ = buf_;
    }

private:
    std::string& out_;
    char* p_ = buf_;
    char buf_[capacity];
};

char* write_u64(char* d, std::uint64_t v) { return std::to_chars(d, d + 20, v).ptr; }

void append_u64(Sink& out, std::uint64_t v) { out.done(write_u64(out.room(20), v)); }

char* write_hex(char* d, const std::uint8_t* p, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        *d++ = hex_digits_upper[p[i] >> 4];
        *d++ = hex_digits_upper[p[i] & 0x0F];
    }
    return d;
}

// "digits" of BCD (or hex) bytes, quoted.
void append_quoted_hex(Sink& out, const std::uint8_t* p, std::size_t n) {
    char* d = out.room(2 * n + 2);
    *d++ = '"';
    d = write_hex(d, p, n);
    *d++ = '"';
    out.done(d);
}

// JSON string of raw bytes: printable ASCII as is, everything else \u00XX (bytes >= 0x80 read
// as Latin-1), so any byte sequence survives decode -> encode.
void append_ascii(Sink& out, const std::uint8_t* p, unsigned n, char pad, bool reverse) {
    std::uint8_t tmp[256];
    if (reverse) {
        for (unsigned i = 0; i < n; ++i) tmp[i] = p[n - 1 - i];
        p = tmp;
    }
    while (n > 0 && p[n - 1] == static_cast<std::uint8_t>(pad)) --n;
    char* d = out.room(6 * std::size_t{n} + 2);
    *d++ = '"';
    for (unsigned i = 0; i < n; ++i) {
        const std::uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = static_cast<char>(c);
        } else if (c < 0x20 || c >= 0x7F) {
            *d++ = '\\';
            *d++ = 'u';
            *d++ = '0';
            *d++ = '0';
            *d++ = hex_digits_upper[c >> 4];
            *d++ = hex_digits_upper[c & 0x0F];
        } else {
            *d++ = static_cast<char>(c);
        }
    }
    *d++ = '"';
    out.done(d);
}

void append_name(Sink& out, const std::string& name) {
    out.put('"');
    out.write(name);
    out.put('"');
}

struct Decoder {
    const Message& m;
    const CodecOptions& opt;
    Sink& out;

    void number(const Field& f, std::uint64_t raw) const {
        if (f.null_if && raw == *f.null_if) return out.lit("null");  // "0 means not applicable"
        if (f.enums) {
            if (const std::string* name = f.enums->name_of(raw)) return append_name(out, *name);
            return append_u64(out, raw);
        }
        if (f.scale == 0 && f.offset == 0) return append_u64(out, raw);
        out.done(format_decimal(out.room(max_decimal_chars), static_cast<wide_int>(raw) + f.offset, f.scale));
    }

    static bool all_zero(const std::uint8_t* p, unsigned n) {
        for (unsigned i = 0; i < n; ++i)
            if (p[i]) return false;
        return true;
    }

    // One item of a non-bits field at p (f.size bytes).
    void value(const Field& f, const std::uint8_t* p) const {
        switch (f.type) {
            case FieldType::bcd: return append_quoted_hex(out, p, f.size);
            case FieldType::bcd_int: {
                std::uint64_t v = 0;
                for (unsigned i = 0; i < f.size; ++i) {
                    const unsigned hi = p[i] >> 4, lo = p[i] & 0x0F;
                    if (hi > 9 || lo > 9) return append_quoted_hex(out, p, f.size);  // not BCD: keep the digits
                    v = v * 100 + hi * 10 + lo;
                }
                return append_u64(out, v);
            }
            case FieldType::uint: return number(f, read_le(p, f.size));
            case FieldType::boolean:
                if (p[0] <= 1) {
                    if (p[0]) out.lit("true");
                    else out.lit("false");
                } else {
                    append_u64(out, p[0]);
                }
                return;
            case FieldType::flags: {
                const std::uint64_t v = read_le(p, f.size);
                out.put('[');
                bool first = true;
                for (unsigned bit = 0; bit < f.size * 8u; ++bit) {
                    if (!(v >> bit & 1)) continue;
                    if (!first) out.put(',');
                    first = false;
                    if (const std::string* name = f.enums->name_of(bit)) append_name(out, *name);
                    else append_u64(out, bit);
                }
                out.put(']');
                return;
            }
            case FieldType::ascii: return append_ascii(out, p, f.size, f.pad, f.reverse);
            case FieldType::hex: return append_quoted_hex(out, p, f.size);
            case FieldType::cp56:
                if (const std::string why = cp56_invalid({p, 7}); !why.empty())
                    throw DecodeError(
                        DecodeError::Kind::bad_value, m.code, m.name, f.name,
                        m.name + ": field " + f.name + ": not a time that can be: " + why + " (bytes " + to_hex({p, 7}) + ")");
                out.done(format_cp56_json(out.room(max_cp56_json_chars), {p, 7}, opt.utc_offset_minutes));
                return;
            case FieldType::group: {
                out.put('{');
                bool first = true;
                members(f.fields, p, first);
                out.put('}');
                return;
            }
            case FieldType::bits: break;  // handled by members()
        }
    }

    void key(const std::string& k, bool& first) const {
        if (!first) out.put(',');
        first = false;
        out.write(k);
    }

    // Fixed-size fields laid out from p (group members); bits members flattened.
    void members(const std::vector<Field>& fields, const std::uint8_t* p, bool& first) const {
        for (const Field& f : fields) {
            one(f, p, first);
            p += f.size;
        }
    }

    void one(const Field& f, const std::uint8_t* p, bool& first) const {
        if (f.type == FieldType::bits) {
            const std::uint64_t raw = read_le(p, f.size);
            for (const Field& b : f.fields) {
                const std::uint64_t mask = b.width >= 64 ? UINT64_MAX : (std::uint64_t{1} << b.width) - 1;
                const std::uint64_t v = raw >> b.shift & mask;
                if (b.reserved && v == 0) continue;
                key(b.key, first);
                number(b, v);
            }
            return;
        }
        if (f.reserved && all_zero(p, f.size)) return;
        key(f.key, first);
        value(f, p);
    }

    [[noreturn]] void short_body(const Field& f, std::size_t offset, std::size_t need, std::size_t have) const {
        throw DecodeError(DecodeError::Kind::short_body, m.code, m.name, f.name,
                          m.name + ": body is " + std::to_string(have) + " bytes; field " + f.name + " needs bytes " +
                              std::to_string(offset) + "…" + std::to_string(offset + need - 1));
    }

    void data(std::span<const std::uint8_t> body) const {
        const std::uint8_t* p = body.data();
        const std::size_t n = body.size();
        const int layout = m.layout_for(n);
        if (layout < 0) {
            std::string known;
            for (const auto& l : m.layouts) known += (known.empty() ? "" : " or ") + std::to_string(l.body) + " (" + l.name + ")";
            throw DecodeError(DecodeError::Kind::bad_length, m.code, m.name, "",
                              m.name + ": body is " + std::to_string(n) + " bytes (length byte " +
                                  hex_code(static_cast<std::uint8_t>(n + 4)) + "); the catalogue knows " + known);
        }
        std::size_t off = 0;
        bool first = true;
        out.lit("\"data\":{");
        for (const Field& f : m.fields) {
            if (!f.in_layout(static_cast<std::size_t>(layout))) continue;
            if (f.count == Count::one) {
                if (off + f.size > n) short_body(f, off, f.size, n);
                if (!(static_cast<int>(off) == m.pile_offset && f.name == "pile")) one(f, p + off, first);
                off += f.size;
                continue;
            }
            std::size_t items = f.count_fixed;
            if (f.count == Count::byte) {
                if (off + 1 > n) short_body(f, off, 1, n);
                items = p[off++];
                if (off + items * f.size > n)
                    throw DecodeError(DecodeError::Kind::bad_count, m.code, m.name, f.name,
                                      m.name + ": field " + f.name + ": count byte says " + std::to_string(items) + " items (" +
                                          std::to_string(items * f.size) + " bytes) but " + std::to_string(n - off) + " bytes follow");
            } else if (f.count == Count::rest) {
                items = (n - off) / f.size;
            } else if (off + items * f.size > n) {
                short_body(f, off, items * f.size, n);
            }
            key(f.key, first);
            out.put('[');
            for (std::size_t i = 0; i < items; ++i) {
                if (i) out.put(',');
                value(f, p + off);
                off += f.size;
            }
            out.put(']');
        }
        if (off < n) {
            if (!first) out.put(',');
            out.lit("\"extra\":");
            append_quoted_hex(out, p + off, n - off);
        }
        out.put('}');
    }
};

}  // namespace

void Codec::decode_to(FrameView frame, std::string& out) const {
    const std::uint8_t code = frame.type();
    const Message* m = catalogue_->find(code);
    if (!m) {
        char code_text[8];
        std::snprintf(code_text, sizeof code_text, "0x%02X", code);
        throw DecodeError(DecodeError::Kind::unknown_type, code, "", "", std::string("unknown frame type ") + code_text);
    }
    if (frame.flag() == 0x01)
        throw DecodeError(DecodeError::Kind::encrypted, code, m->name, "",
                          m->name + ": encrypted frame (flag 0x01, 3DES): the body is not decoded");
    if (frame.flag() != 0x00) {
        char flag_text[8];
        std::snprintf(flag_text, sizeof flag_text, "0x%02X", frame.flag());
        throw DecodeError(DecodeError::Kind::bad_flag, code, m->name, "", m->name + ": unknown encryption flag " + flag_text);
    }
    const auto body = frame.body();
    const std::size_t start = out.size();
    try {
        Sink sink(out);
        sink.lit("{\"pile\":");
        if (const auto pile = m->pile_bytes(body); !pile.empty()) {
            append_quoted_hex(sink, pile.data(), 7);
        } else {
            sink.lit("null");
        }
        sink.write(m->envelope);
        sink.lit(",\"seq\":\"");
        const Seq seq = frame.seq();
        sink.done(write_hex(sink.room(4), seq.data(), 2));
        sink.lit("\",");
        if (frame.crc_order == CrcOrder::high_first) sink.lit("\"crc_order\":\"high_first\",");
        Decoder{*m, options_, sink}.data(body);
        sink.put('}');
        sink.flush();
    } catch (...) {
        out.resize(start);
        throw;
    }
}

std::string Codec::decode_text(FrameView frame) const {
    std::string out;
    out.reserve(512);
    decode_to(frame, out);
    return out;
}

nlohmann::json Codec::decode(FrameView frame) const { return nlohmann::json::parse(decode_text(frame)); }

}  // namespace ykc
