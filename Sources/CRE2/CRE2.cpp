#include "CRE2.h"

#include <re2/re2.h>

struct cre2_regex {
    RE2 compiled;

    cre2_regex(const char *pattern, size_t length, const RE2::Options &options)
        : compiled(re2::StringPiece(pattern, length), options) {}
};

cre2_regex *cre2_compile(const char *pattern, size_t pattern_length, int64_t max_memory) {
    RE2::Options options;
    options.set_encoding(RE2::Options::EncodingUTF8);
    // Errors reach the caller through cre2_error; RE2's own logging would write to stderr.
    options.set_log_errors(false);
    options.set_max_mem(max_memory);
    try {
        return new cre2_regex(pattern, pattern_length, options);
    } catch (...) {
        // Out of memory: the only exception RE2's constructor can raise.
        return nullptr;
    }
}

const char *cre2_error(const cre2_regex *regex) {
    if (regex == nullptr) return "out of memory while compiling the pattern";
    return regex->compiled.ok() ? nullptr : regex->compiled.error().c_str();
}

int cre2_search(const cre2_regex *regex, const char *text, size_t text_length) {
    if (regex == nullptr || !regex->compiled.ok()) return 0;
    return RE2::PartialMatch(re2::StringPiece(text, text_length), regex->compiled) ? 1 : 0;
}

void cre2_free(cre2_regex *regex) {
    delete regex;
}
