#pragma once
// A failed property in a fuzz target: print what and where, then abort() so libFuzzer reports a
// "deadly signal" and writes the input to crash-<sha1> (scripts/fuzz.sh prints its path).
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>

namespace ykc_fuzz {

[[noreturn]] inline void fail(const char* file, int line, const char* cond, const std::string& message) {
    std::fprintf(stderr, "\n==== FUZZ CHECK FAILED at %s:%d: %s\n     %s\n", file, line, cond, message.c_str());
    std::fflush(stderr);
    std::abort();
}

// Any exception other than the documented ones: a bug, reported with its type's message.
[[noreturn]] inline void unexpected(const char* file, int line, const char* where, const std::exception& e) {
    fail(file, line, where, std::string("unexpected exception: ") + e.what());
}

}  // namespace ykc_fuzz

#define FUZZ_CHECK(cond, message)                                        \
    do {                                                                 \
        if (!(cond)) {                                                   \
            std::ostringstream fuzz_os_;                                 \
            fuzz_os_ << message;                                         \
            ::ykc_fuzz::fail(__FILE__, __LINE__, #cond, fuzz_os_.str()); \
        }                                                                \
    } while (0)
