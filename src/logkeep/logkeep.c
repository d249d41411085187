/* netlab-log: keeps one VM's console log within its bounds (logkeep.h).
 * It runs as the QEMU user, with only the descriptors netlab gave it: it
 * opens nothing and parses nothing of what the guest printed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "logkeep.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static void save_cut(unsigned long long cut) {
  char text[32];
  int n = snprintf(text, sizeof text, "%llu\n", cut);
  if (ftruncate(NL_LOG_FD_CUT, 0) == 0) (void)!pwrite(NL_LOG_FD_CUT, text, (size_t)n, 0);
}

int main(void) {
  static char buf[65536];
  const int tails[2] = {NL_LOG_FD_TAIL1, NL_LOG_FD_TAIL2};
  size_t head = 0, used[2] = {0, 0};
  int cur = 0;
  unsigned long long cut = 0;
  for (;;) {
    ssize_t n = read(0, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0;
    const char *p = buf;
    size_t left = (size_t)n;
    if (head < NL_LOG_HEAD) {
      size_t k = left < NL_LOG_HEAD - head ? left : NL_LOG_HEAD - head;
      if (write_all(NL_LOG_FD_HEAD, p, k) != 0) return 1;
      head += k;
      p += k;
      left -= k;
    }
    while (left > 0) {
      if (used[cur] == NL_LOG_TAIL) {
        /* The other file's bytes are the oldest of the tail: they go. */
        cur = !cur;
        if (used[cur]) {
          cut += used[cur];
          save_cut(cut);
        }
        if (ftruncate(tails[cur], 0) != 0 || lseek(tails[cur], 0, SEEK_SET) != 0) return 1;
        used[cur] = 0;
      }
      size_t k = left < NL_LOG_TAIL - used[cur] ? left : NL_LOG_TAIL - used[cur];
      if (write_all(tails[cur], p, k) != 0) return 1;
      used[cur] += k;
      p += k;
      left -= k;
    }
  }
}
