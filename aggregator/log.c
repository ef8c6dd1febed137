/*
 * The aggregator's one log stream: a line per event,
 *   ts=2026-11-30T16:47:52Z level=info event=update_accepted key=value ...
 * (logfmt), on stderr or the file the simulator gives. libcoap's own
 * messages come here too (event=coap, server.c). docs/aggregator.md lists
 * the events.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "aggregator.h"

static FILE *log_file; /* NULL: stderr */
static int log_level = AGG_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warning", "error"};

void agg_log_to(FILE *f)
{
    log_file = f;
}

void agg_log_set_level(int level)
{
    log_level = level;
}

int agg_log_level_parse(const char *text, int *level)
{
    for (int i = AGG_LOG_DEBUG; i <= AGG_LOG_WARNING; i++) {
        if (!strcmp(text, level_names[i])) {
            *level = i;
            return 0;
        }
    }
    return -1;
}

const char *agg_log_level_name(int level)
{
    return level >= AGG_LOG_DEBUG && level <= AGG_LOG_ERROR ? level_names[level] : "info";
}

__attribute__((format(printf, 3, 0))) static void log_line(int level, const char *event, const char *fmt, va_list ap)
{
    /* One write per line: stderr is unbuffered, and the aggregator logs every
     * accepted update, so piecewise stdio calls cost several syscalls each. */
    char line[768], when[32];
    const time_t now = time(NULL);
    struct tm tm;
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
    int n = snprintf(line, sizeof(line), "ts=%s level=%s event=%s%s", when, agg_log_level_name(level), event,
                     fmt && *fmt ? " " : "");
    if (fmt && *fmt && n > 0 && (size_t)n < sizeof(line)) {
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    }
    if (n < 0) {
        return;
    }
    if ((size_t)n >= sizeof(line) - 1) {
        n = (int)sizeof(line) - 2; /* truncated: keep the line a line */
    }
    line[n++] = '\n';
    fwrite(line, 1, (size_t)n, log_file ? log_file : stderr);
}

void agg_log_at(int level, const char *event, const char *fmt, ...)
{
    if (level < log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_line(level, event, fmt, ap);
    va_end(ap);
}

void agg_log(const char *event, const char *fmt, ...)
{
    if (AGG_LOG_INFO < log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_line(AGG_LOG_INFO, event, fmt, ap);
    va_end(ap);
}
