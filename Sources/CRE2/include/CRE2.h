#ifndef CRE2_H
#define CRE2_H

// A minimal C interface to RE2, so Swift can use a linear-time regex engine
// without C++ interop. Patterns and subjects are length-delimited UTF-8 bytes:
// embedded NULs are ordinary characters, and a byte that is not valid UTF-8
// matches only `\C` (any byte), never `.` or a class, and cannot derail a match.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// A compiled pattern. Immutable once compiled, so one may be matched from
/// several threads at once.
typedef struct cre2_regex cre2_regex;

/// Compiles `pattern`, using at most about `max_memory` bytes for the compiled
/// program and its match caches. Check `cre2_error` before matching, and
/// release the result with `cre2_free` in every case. Returns NULL only when
/// memory ran out, which `cre2_error` also reports.
cre2_regex *cre2_compile(const char *pattern, size_t pattern_length, int64_t max_memory);

/// NULL if the pattern compiled, otherwise RE2's description of what is wrong
/// (e.g. "missing ): ([a-z"). Owned by `regex` (static when `regex` is NULL);
/// valid until `cre2_free`.
const char *cre2_error(const cre2_regex *regex);

/// 1 if the pattern matches anywhere in `text` (an unanchored search; use `^`
/// and `$` to anchor), 0 if not or if the pattern did not compile.
int cre2_search(const cre2_regex *regex, const char *text, size_t text_length);

void cre2_free(cre2_regex *regex);

#ifdef __cplusplus
}
#endif

#endif
