// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cni_time CONFIG PROGRAM: runs a CNI plugin the way a runtime does (the
 * CNI_* environment is inherited, the config file on stdin, the result on
 * stdout sent to /dev/null) and prints "WALL_US MAXRSS_KIB EXIT" for just
 * that process, so a benchmark's own shell costs are not counted.
 * bench_cni.sh builds it static with musl: the child's peak RSS includes
 * the memory of this process until exec, which must stay negligible.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>

extern char **environ;

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	struct rusage ru;
	long long t0, t1;
	int status, ret;
	pid_t pid;

	if (argc != 3) {
		fprintf(stderr, "usage: cni_time CONFIG PROGRAM\n");
		return 2;
	}
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, argv[1], O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0) {
		perror("cni_time: file actions");
		return 2;
	}
	t0 = now_us();
	ret = posix_spawn(&pid, argv[2], &fa, NULL, &argv[2], environ);
	if (ret != 0) {
		fprintf(stderr, "cni_time: %s: %s\n", argv[2], strerror(ret));
		return 2;
	}
	if (wait4(pid, &status, 0, &ru) < 0) {
		perror("cni_time: wait4");
		return 2;
	}
	t1 = now_us();
	posix_spawn_file_actions_destroy(&fa);
	printf("%lld %ld %d\n", t1 - t0, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
