/* netlab-relay STATEDIR NODE URI DOMAIN...: the sockets `netlab console`,
 * `gdb --serial`, `exec` and `test` use, for nodes on other hosts. Their
 * QEMU's sockets are on that host, out of reach: each socket here is joined,
 * one client at a time as QEMU's own are, to the node's serial port or
 * virtio port through libvirt's stream API. Started by `up`, which records
 * it, so that `down` stops it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent-proto.h"
#include "layout.h"
#include "util.h"
#include "virt.h"

typedef struct {
  const char *uri;
  NlVirt *virt; /* one connection per host, which every port shares */
  const char *domain;
  char *port; /* serial0, serial1, netlab.agent.N */
  char *path;
  int fd;
} Port;

static int listen_on(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return -1;
  strcpy(sa.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 4) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

/* A thread per port: libvirt's stream calls block. Each serves one client
 * at a time, as QEMU's sockets do. */
static gpointer serve(gpointer data) {
  Port *p = data;
  g_autoptr(GError) error = NULL;
  for (;;) {
    int c = accept4(p->fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    if (!nl_virt_relay(p->virt, p->domain, p->port, c, &error)) {
      fprintf(stderr, "netlab-relay: %s\n", error->message);
      g_clear_error(&error);
    }
    close(c);
  }
  return NULL;
}

static void add_port(GPtrArray *ports, char **node, const char *port, char *path) {
  Port *p = g_new0(Port, 1);
  p->uri = node[1];
  p->domain = node[2];
  p->port = g_strdup(port);
  p->path = path;
  g_ptr_array_add(ports, p);
}

int main(int argc, char **argv) {
  if (argc < 5 || (argc - 2) % 3 != 0) {
    fprintf(stderr, "usage: netlab-relay STATEDIR NODE URI DOMAIN...\n");
    return 2;
  }
  const char *statedir = argv[1];
  g_autoptr(GPtrArray) ports = g_ptr_array_new();
  for (int i = 2; i < argc; i += 3) {
    g_auto(NlVmPaths) vm = {0};
    nl_layout_vm(&vm, statedir, NULL, argv[i]);
    add_port(ports, argv + i, "serial0", g_strdup(vm.console));
    add_port(ports, argv + i, "serial1", g_strdup(vm.serial1));
    for (int a = 0; a < NLA_PORTS; a++) {
      g_autofree char *port = g_strdup_printf("netlab.agent.%d", a);
      add_port(ports, argv + i, port, nl_layout_agent_sock(&vm, a));
    }
  }
  for (guint i = 0; i < ports->len; i++) {
    Port *p = ports->pdata[i];
    p->fd = listen_on(p->path);
    if (p->fd < 0) {
      fprintf(stderr, "netlab-relay: cannot listen on '%s': %s\n", p->path, g_strerror(errno));
      return 1;
    }
  }
  /* Sockets ready: the parent tells `up` the daemon's pid and leaves. The
   * threads (libvirt's too) start in the daemon only. */
  pid_t pid = fork();
  if (pid < 0) return 1;
  if (pid > 0) {
    printf("%d\n", (int)pid);
    return 0;
  }
  setsid();
  g_autofree char *logs = nl_layout_logs(statedir);
  g_autofree char *log = g_build_filename(logs, "relay.log", NULL);
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  dup2(null, 0);
  dup2(null, 1);
  if (err >= 0) dup2(err, 2);
  /* Over ssh, a connection is a session: one per host. */
  g_autoptr(GHashTable) conns = g_hash_table_new(g_str_hash, g_str_equal);
  for (guint i = 0; i < ports->len; i++) {
    Port *p = ports->pdata[i];
    p->virt = g_hash_table_lookup(conns, p->uri);
    if (!p->virt) {
      g_autoptr(GError) error = NULL;
      p->virt = nl_virt_open(p->uri, statedir, &error);
      if (!p->virt) {
        fprintf(stderr, "netlab-relay: %s\n", error->message);
        return 1;
      }
      g_hash_table_insert(conns, (char *)p->uri, p->virt);
    }
  }
  for (guint i = 0; i < ports->len; i++)
    g_thread_unref(g_thread_new("port", serve, ports->pdata[i]));
  for (;;) pause();
}
