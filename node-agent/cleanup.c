// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Undoing the node's programming, like `wg-quick down`: the CNI config
 * first (no new pods on a network about to go), then the WireGuard device,
 * the VXLAN device, skein's routes and rules, table inet skein, and last
 * the Node's annotations, so other nodes drop this one only once it is
 * gone. Every step runs even when an earlier one failed.
 */
#include <errno.h>
#include <string.h>

#include "cniconf.h"
#include "encap.h"
#include "link.h"
#include "log.h"
#include "nft.h"
#include "publish.h"
#include "reconcile.h"
#include "route.h"

/* The wireguard-go process is not ours to stop: empty its device instead. */
static int empty_userspace_device(struct node_state *s, struct error *err)
{
	const char *ifname = s->opts->topo.wg_ifname;
	struct wg_device have, none = { 0 }, delta;
	struct link_info link;
	int changes, rc;

	if (wg_device_get(&s->wg, ifname, &have, err) < 0)
		return -1;
	snprintf(none.name, sizeof(none.name), "%s", ifname);
	changes = wg_device_diff(&have, &none, &delta);
	wg_device_free(&have);
	if (changes < 0)
		return error_set(err, "%s: diff: out of memory", ifname);
	rc = changes ? wg_device_set(&s->wg, &delta, err) : 0;
	wg_device_free(&delta);
	if (rc < 0)
		return -1;
	rc = link_get(&s->rt, ifname, &link, err);
	if (rc == -ENODEV)
		return 0;
	return rc < 0 ? -1 : node_sync_device_address(s, link.index, NULL, err);
}

static int remove_device(struct node_state *s, struct error *err)
{
	if (s->wg.kind == WG_BACKEND_USERSPACE)
		return empty_userspace_device(s, err);
	return wg_device_remove(&s->wg, s->opts->topo.wg_ifname, err);
}

static int remove_encap(struct node_state *s, struct error *err)
{
	struct link_info link;
	int rc = link_get(&s->rt, s->opts->topo.encap_ifname, &link, err);

	if (rc == -ENODEV)
		return 0;
	return rc < 0 ? -1 : encap_remove(&s->rt, s->opts->topo.encap_ifname, err);
}

static int remove_annotations(struct agent *a, struct error *err)
{
	struct annotations an;
	int rc;

	annotations_init(&an);
	annotations_remove_all(&an);
	rc = agent_publish_annotations(a, an.keys, an.values, an.n, err);
	annotations_free(&an);
	return rc < 0 ? error_prefix(err, "removing annotations") : 0;
}

/* The first failure is the result; later ones are logged. */
static void note(int rc, const struct error *e, int *failures, struct error *first)
{
	if (rc >= 0)
		return;
	if ((*failures)++)
		log_error("clean-up: %s", e->msg);
	else
		*first = *e;
}

int node_clean_up(struct node_state *s, struct agent *a, struct error *err)
{
	struct error e;
	int failures = 0;

	note(cniconf_remove(s->opts->cni_conf, &e), &e, &failures, err);
	note(remove_device(s, &e), &e, &failures, err);
	note(remove_encap(s, &e), &e, &failures, err);
	note(route_remove_all(&s->rt, &e), &e, &failures, err);
	note(nft_remove(&s->nf, &e), &e, &failures, err);
	note(remove_annotations(a, &e), &e, &failures, err);
	if (failures)
		return -1;
	log_info("clean-up: the node is as before skein (device%s, routes, rules, nft table, "
		 "CNI config and annotations removed)",
		 s->wg.kind == WG_BACKEND_USERSPACE ? " emptied" : "");
	return 0;
}
