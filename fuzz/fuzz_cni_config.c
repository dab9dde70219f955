// SPDX-License-Identifier: GPL-2.0-or-later
/* The CNI network config on stdin (plugin config or conflist), and the
 * prevResult it may carry, which CHECK decodes. */
#include "../cni-plugin/cni.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_string(data, size);
	struct cni_conf conf;
	struct error err;

	if (cni_conf_parse(text, &conf, &err) == CNI_OK) {
		FUZZ_CHECK(conf.n_pod_cidrs <= IPAM_MAX_RANGES);
		FUZZ_CHECK(conf.valid || conf.n_valid == 0);
		if (conf.prev_result) {
			struct cni_result r;

			if (cni_result_decode(conf.prev_result, &r, &err) == 0) {
				json_t *j = cni_result_encode(&r, conf.version);

				FUZZ_CHECK(j);
				json_decref(j);
			}
		}
	}
	cni_conf_free(&conf);
	free(text);
	return 0;
}
