// SPDX-License-Identifier: GPL-2.0-or-later
/* A kubeconfig file (YAML or JSON), read through a memfd so the parser sees
 * an ordinary path. */
#include <sys/mman.h>
#include <unistd.h>

#include "kubeconfig.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = memfd_create("kubeconfig", MFD_CLOEXEC);
	char path[64];
	struct kube_config c;
	struct error err;

	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (kube_config_from_file(path, &c, &err) == 0) {
		FUZZ_CHECK(c.server && c.namespace);
		FUZZ_CHECK(c.server[0] && c.server[strlen(c.server) - 1] != '/');
		kube_config_free(&c);
	}
	close(fd);
	return 0;
}
