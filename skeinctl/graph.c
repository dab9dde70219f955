// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include "skeinctl.h"

static const char *const granularity_names[] = { "location", "full", "cross" };

/* The text of a DOT double-quoted string: quotes and backslashes escaped. */
static void escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void id(FILE *f, const char *kind, const char *name)
{
	fprintf(f, "\"%s/", kind);
	escaped(f, name);
	fputc('"', f);
}

/* A label line: "\n" (DOT's centred line break) before every line but the first. */
static void line(FILE *f, bool *first, const char *text)
{
	if (!*first)
		fputs("\\n", f);
	*first = false;
	escaped(f, text);
}

static void cidr_lines(FILE *f, bool *first, const struct cidr *c, size_t n)
{
	char buf[CIDR_STRLEN];

	for (size_t i = 0; i < n; i++)
		line(f, first, cidr_format(&c[i], buf));
}

static bool leads(const struct plan *segs, size_t node)
{
	for (size_t i = 0; segs && i < segs->n_segments; i++)
		if (segs->segments[i].leader == node)
			return true;
	return false;
}

static void write_node(FILE *f, const struct node *n, const struct plan *own, bool leader)
{
	char buf[CIDR_STRLEN + MODEL_HOST_MAX + 16], ip[CIDR_STRLEN];
	bool first = true;

	fputs("    ", f);
	id(f, "node", n->name);
	fputs(" [label=\"", f);
	line(f, &first, n->name);
	if (leader)
		line(f, &first, "(leader)");
	if (own && own->wireguard_ip.ip.family) {
		snprintf(buf, sizeof(buf), "wg %s", cidr_format(&own->wireguard_ip, ip));
		line(f, &first, buf);
	}
	cidr_lines(f, &first, n->pod_cidrs, n->n_pod_cidrs);
	if (n->endpoint.host[0]) {
		snprintf(buf, sizeof(buf), "%s:%u", n->endpoint.host, n->endpoint.port);
		line(f, &first, buf);
	}
	if (!n->ready)
		line(f, &first, "NotReady");
	fprintf(f, "\"%s%s];\n", leader ? ", style=bold, peripheries=2" : "",
		n->ready ? "" : ", style=dashed");
}

static void write_nodes(FILE *f, const struct cluster *c, struct plan *plans, const struct plan *segs)
{
	const char *open = NULL;

	/* The model is sorted by name, not location: one pass per location,
	 * each started by its first node. */
	for (size_t i = 0; i < c->n_nodes; i++) {
		const char *loc = c->nodes[i].location;
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(c->nodes[j].location, loc);
		if (seen)
			continue;
		if (*loc) {
			fputs("  subgraph ", f);
			id(f, "cluster_location", loc);
			fputs(" {\n    label=\"location/", f);
			escaped(f, loc);
			fputs("\";\n    style=rounded;\n", f);
			open = loc;
		}
		for (size_t j = i; j < c->n_nodes; j++)
			if (!strcmp(c->nodes[j].location, loc))
				write_node(f, &c->nodes[j], plans[j].n_peers || plans[j].wireguard_ip.ip.family ?
					   &plans[j] : NULL, leads(segs, j));
		if (open)
			fputs("  }\n", f);
		open = NULL;
	}
}

static void write_peers(FILE *f, const struct cluster *c)
{
	for (size_t i = 0; i < c->n_peers; i++) {
		bool first = true;

		fputs("  ", f);
		id(f, "peer", c->peers[i].name);
		fputs(" [shape=ellipse, label=\"", f);
		line(f, &first, c->peers[i].name);
		cidr_lines(f, &first, c->peers[i].allowed_ips, c->peers[i].n_allowed_ips);
		fputs("\"];\n", f);
	}
}

struct edge {
	char a[MODEL_NAME_MAX + 16], b[MODEL_NAME_MAX + 16];
};

static int edge_cmp(const void *x, const void *y)
{
	const struct edge *a = x, *b = y;
	int d = strcmp(a->a, b->a);

	return d ? d : strcmp(a->b, b->b);
}

/* The graph id of what plan peer `name` stands for: "node/x", "peer/p",
 * or a location's leader. "" when unknown. */
static void target_of(const struct cluster *c, const struct plan *segs, const char *name,
		      char out[MODEL_NAME_MAX + 16])
{
	out[0] = '\0';
	if (strncmp(name, "location/", 9)) {
		snprintf(out, MODEL_NAME_MAX + 16, "%s", name);
		return;
	}
	for (size_t i = 0; segs && i < segs->n_segments; i++) {
		const struct plan_segment *s = &segs->segments[i];

		if (!strcmp(s->name, name) && s->leader < c->n_nodes)
			snprintf(out, MODEL_NAME_MAX + 16, "node/%s", c->nodes[s->leader].name);
	}
}

/* Every tunnel once, whichever side(s) list it. */
static int write_edges(FILE *f, const struct cluster *c, const struct plan *plans,
		       const struct plan *segs, struct error *err)
{
	struct edge *edges = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < c->n_nodes; i++) {
		for (size_t k = 0; k < plans[i].n_peers; k++) {
			struct edge e;

			snprintf(e.a, sizeof(e.a), "node/%s", c->nodes[i].name);
			target_of(c, segs, plans[i].peers[k].name, e.b);
			if (!e.b[0])
				continue;
			if (strcmp(e.a, e.b) > 0 && strncmp(e.b, "peer/", 5)) {
				struct edge t = e;

				memcpy(e.a, t.b, sizeof(e.a));
				memcpy(e.b, t.a, sizeof(e.b));
			}
			if (n == cap) {
				struct edge *more = realloc(edges, (cap = cap ? 2 * cap : 16) * sizeof(*edges));

				if (!more) {
					free(edges);
					return error_set(err, "graph: out of memory");
				}
				edges = more;
			}
			edges[n++] = e;
		}
	}
	qsort(edges, n, sizeof(*edges), edge_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i && !edge_cmp(&edges[i - 1], &edges[i]))
			continue;
		fputs("  \"", f);
		escaped(f, edges[i].a);
		fputs("\" -- \"", f);
		escaped(f, edges[i].b);
		fputs("\";\n", f);
	}
	free(edges);
	return 0;
}

int graph_write(FILE *f, const struct cluster *c, const struct topology_options *opts,
		struct error *err)
{
	struct plan *plans = calloc(c->n_nodes ? c->n_nodes : 1, sizeof(*plans));
	const struct plan *segs = NULL;
	int rc;

	if (!plans)
		return error_set(err, "graph: out of memory");
	/* A node that cannot compute (no pod CIDR yet) holds no tunnels; nor
	 * does a location's non-leader, once one plan says who leads. */
	for (size_t i = 0; i < c->n_nodes; i++) {
		struct error ignored;

		if (segs && opts->granularity != GRANULARITY_CROSS && !leads(segs, i))
			continue;
		if (topology_compute(c, c->nodes[i].name, opts, &plans[i], &ignored) == 0 && !segs)
			segs = &plans[i];
	}
	fprintf(f, "graph skein {\n  label=\"skein: %s granularity\";\n  labelloc=t;\n"
		"  node [shape=box, fontname=\"monospace\"];\n", granularity_names[opts->granularity]);
	write_nodes(f, c, plans, segs);
	write_peers(f, c);
	rc = write_edges(f, c, plans, segs, err);
	fputs("}\n", f);
	for (size_t i = 0; i < c->n_nodes; i++)
		plan_free(&plans[i]);
	free(plans);
	return rc;
}

static const char graph_usage[] =
	"Usage: skeinctl graph [options] | dot -Tsvg > mesh.svg\n"
	"Prints the topology as Graphviz DOT: locations as clusters, leaders bold,\n"
	"one edge per WireGuard tunnel, external peers as ellipses.\n"
	"\n";

int cmd_graph(int argc, char **argv)
{
	struct cluster cluster = { 0 };
	struct ctl ctl;
	struct error err;
	int first, rc;

	rc = ctl_parse(&ctl, argc, argv, NULL, 0, NULL, NULL, graph_usage, &first, &err);
	if (rc > 0)
		return 0;
	if (rc == 0 && first < argc)
		rc = error_set(&err, "unexpected argument \"%s\" (see skeinctl graph --help)", argv[first]);
	if (rc == 0 && (rc = ctl_load_cluster(&ctl, &cluster, &err)) == 0)
		rc = graph_write(stdout, &cluster, &ctl.node.topo, &err);
	cluster_free(&cluster);
	if (rc < 0) {
		fprintf(stderr, "skeinctl graph: %s\n", err.msg);
		return 1;
	}
	return 0;
}
