/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Leveled logging to stderr (never stdout: the CNI plugin's stdout is its
 * result). One line per call, prefixed with the program name and level.
 */
#ifndef SKEIN_LOG_H
#define SKEIN_LOG_H

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

void log_init(const char *program, enum log_level min_level);
/* Parses "debug", "info", "warn" or "error"; returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
