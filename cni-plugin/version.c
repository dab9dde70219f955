// SPDX-License-Identifier: GPL-2.0-or-later
#include "cni.h"

int cni_require_version(enum cni_version have, enum cni_version min, const char *verb,
			struct error *err)
{
	if (have >= min)
		return 0;
	return error_set(err, "%s needs cniVersion %s or later, the config has %s", verb,
			 cni_versions[min], cni_versions[have]);
}

json_t *cni_version_info(void)
{
	json_t *list = json_array();

	for (int v = 0; list && v < CNI_N_VERSIONS; v++)
		json_array_append_new(list, json_string(cni_versions[v]));
	return json_pack("{s:s, s:o*}", "cniVersion", cni_versions[CNI_VERSION_LATEST],
			 "supportedVersions", list);
}
