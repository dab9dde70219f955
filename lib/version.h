/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef SKEIN_VERSION_H
#define SKEIN_VERSION_H
#define SKEIN_VERSION "0.1.0"
#endif
