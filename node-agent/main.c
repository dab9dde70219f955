// SPDX-License-Identifier: GPL-2.0-or-later
/* skein-agent: the per-node DaemonSet process. */
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "install_cni.h"
#include "reconcile.h"
#include "version.h"

#define AGENT_HEAP_KEEP (32 << 20)

/* Signals are taken by one thread with sigwait(), so stopping the agent can
 * use mutexes and condition variables, which a handler could not. */
static void *wait_for_signal(void *arg)
{
	struct agent *a = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigwait(&set, &sig) == 0)
		log_info("signal %d: stopping", sig);
	agent_stop(a);
	return NULL;
}

int main(int argc, char **argv)
{
	struct agent_options opts;
	struct agent agent;
	static struct node_state node;
	struct error err;
	pthread_t signal_thread;
	sigset_t set;
	int rc;

	rc = agent_options_parse(argc, argv, &opts, &err);
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "skein-agent: %s\n", err.msg);
		return rc < 0 ? 2 : 0;
	}
	log_init("skein-agent", opts.log_level);
	if (opts.install_cni) {
		if (cni_install(opts.install_cni_from, opts.install_cni, SKEIN_VERSION, &err) == 0)
			return 0;
		log_error("--install-cni: %s", err.msg);
		return 1;
	}
	/* Every plan update frees the previous plan (megabytes at thousands
	 * of nodes): handing that memory back to the kernel would make the
	 * next computation fault it in again, which costs more than the
	 * computation (docs/topology.md, Figures). */
	mallopt(M_MMAP_THRESHOLD, AGENT_HEAP_KEEP);
	mallopt(M_TRIM_THRESHOLD, AGENT_HEAP_KEEP);
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	log_info("skein-agent %s on node %s", SKEIN_VERSION, opts.hostname);
	if (agent_init(&agent, &opts, &err) < 0) {
		log_error("%s", err.msg);
		agent_free(&agent);
		return 1;
	}
	if (pthread_create(&signal_thread, NULL, wait_for_signal, &agent)) {
		log_error("cannot start the signal thread");
		agent_free(&agent);
		return 1;
	}
	pthread_detach(signal_thread);
	if (node_start(&node, &agent.opts.node, &err) < 0) {
		log_error("%s", err.msg);
		node_state_free(&node);
		agent_free(&agent);
		return 1;
	}
	agent.reconcile = node_reconcile;
	agent.reconcile_ctx = &node;
	rc = agent_run(&agent);
	if (agent.opts.node.clean_up && node_clean_up(&node, &agent, &err) < 0) {
		log_error("clean-up: %s", err.msg);
		rc = -1;
	}
	node_state_free(&node);
	agent_free(&agent);
	return rc < 0 ? 1 : 0;
}
