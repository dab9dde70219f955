// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni_version.h"

#include <string.h>

const char *const cni_versions[CNI_N_VERSIONS] = {
	"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0",
};

int cni_version_parse(const char *s, enum cni_version *out)
{
	for (int v = 0; v < CNI_N_VERSIONS; v++) {
		if (strcmp(s, cni_versions[v]) == 0) {
			*out = (enum cni_version)v;
			return 0;
		}
	}
	return -1;
}
