/* Container images as a node's root: references, Kathará's base images
 * that stand for the host's root, and the cache of unpacked images that
 * skopeo (pull) and umoci (unpack) fill. An unpacked image is a tree of
 * plain files and directories only: its owners, modes, symlinks and
 * special files live in user.virtfs.* xattrs, which QEMU's 9p
 * "mapped-xattr" model shows the guest, so that nothing in it is a
 * device, a setuid file or a link on the host. */
#pragma once

#include <glib.h>

#include "lab.h"
#include "util.h"

/* REF as skopeo names it: a transport (oci:, oci-archive:, docker-archive:,
 * dir:) as given, else a Docker reference made whole as Docker does
 * ("kathara/frr" -> "docker://docker.io/kathara/frr:latest"). NULL with an
 * NL_ERROR_INPUT error when REF is no reference. */
char *nl_image_normalize(const char *ref, GError **error);

/* "missing", "never" or "always". */
gboolean nl_image_parse_pull(const char *text, NlPullPolicy *policy);

/* When REF is one of Kathará's base images that the host's root stands for
 * (kathara/base, kathara/frr, kathara/quagga, any of them untagged or
 * :latest) and the host has what it carries: why, in words ("FRR is
 * installed"). NULL: REF is an image of its own. */
const char *nl_image_host_equivalent(const char *ref);

/* The cache: $NETLAB_IMAGE_CACHE (an absolute path) if set, else
 * /var/lib/netlab/images as root, else ~/.local/share/netlab/images (the
 * home directory from the password database, not $HOME). */
char *nl_image_cache_dir(void);

/* The unpacked root of REF in CACHE (its rootfs directory), or NULL when
 * the cache does not hold it. *DIGEST (may be NULL) gets its manifest
 * digest. */
char *nl_image_find(const char *cache, const char *ref, char **digest);

/* Pulls REF with skopeo, unpacks it with umoci (as an unprivileged user:
 * netlab-image when root runs netlab) unless its digest is unpacked
 * already, and records REF -> digest. Returns the rootfs directory.
 * skopeo's progress lines go to SAY. */
char *nl_image_pull(const char *cache, const char *ref, const NlProgress *say, GError **error);

typedef struct {
  char *ref;     /* normalized */
  char *digest;  /* sha256:... */
  guint64 bytes; /* of the unpacked root, shared by the refs of one digest */
} NlImageEntry;

void nl_image_entry_free(NlImageEntry *e);

/* Every reference the cache holds, sorted. */
GPtrArray *nl_image_list(const char *cache, GError **error);

/* `up` records in the state directory, as key NL_IMAGE_STATE_KEY + NODE,
 * the root each node boots on: a root that a node of a lab that is up
 * boots on is in use. */
#define NL_IMAGE_STATE_KEY "image."

/* Forgets REF, and removes its root when no other reference uses it. A
 * root in use is an error naming the lab and the node (nothing removed). */
gboolean nl_image_remove(const char *cache, const char *ref, GError **error);

/* Removes the roots no reference uses and what interrupted pulls left,
 * but the roots in use, each said to SAY; *FREED gets the bytes given
 * back. */
gboolean nl_image_prune(const char *cache, guint64 *freed, const NlProgress *say, GError **error);

/* What init needs of an image's root, checked on the host before the node
 * boots: a shell at /bin/sh for the startup scripts. NULL, or why not. */
char *nl_image_check_root(const char *rootfs);
