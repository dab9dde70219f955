/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Where the Kubernetes API is and how to authenticate, the way client-go
 * finds it: a kubeconfig file (--kubeconfig, else the first entry of
 * $KUBECONFIG) read at its current-context, else the in-cluster service
 * account. Errors name the file, the context and the field at fault.
 * Exec and auth-provider credential plugins are not supported (an error).
 */
#ifndef SKEIN_KUBECONFIG_H
#define SKEIN_KUBECONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

/* Every string is heap-owned or NULL. A *_pem field holds decoded
 * certificate or key data; a *_file field a path (already made absolute
 * against the kubeconfig's directory). */
struct kube_config {
	char *server;      /* "https://host:port", no trailing slash */
	char *ca_file, *ca_pem;
	char *cert_file, *cert_pem;
	char *key_file, *key_pem;
	char *token;       /* a fixed bearer token */
	char *token_file;  /* a token re-read on every request (it rotates) */
	char *namespace;
	bool insecure;     /* insecure-skip-tls-verify */
};

/* Reads the kubeconfig at path (YAML or JSON). */
int kube_config_from_file(const char *path, struct kube_config *out, struct error *err);
/* In-cluster: $KUBERNETES_SERVICE_HOST/PORT and sa_dir's token, ca.crt
 * and namespace files (sa_dir is KUBE_SA_DIR outside tests). */
int kube_config_in_cluster(const char *sa_dir, struct kube_config *out, struct error *err);
/* path if given, else $KUBECONFIG, else in-cluster. */
int kube_config_load(const char *path, struct kube_config *out, struct error *err);
/* The bearer token for the next request: the token file's current content
 * or the fixed token, heap-allocated; *out is NULL when there is none. */
int kube_config_token(const struct kube_config *c, char **out, struct error *err);
void kube_config_free(struct kube_config *c);

#endif
