#include "accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

gboolean nl_accel_pick(NlAccel want, gboolean *kvm, char **why, GError **error) {
  g_autofree char *reason = NULL;
  if (want == NL_ACCEL_TCG) {
    *kvm = FALSE;
    *why = g_strdup("asked for with --accel tcg");
    return TRUE;
  }
  /* kvm_pvm provides /dev/kvm but hangs an ordinary guest at "Booting from
   * ROM": only its module in sysfs tells it apart. */
  if (g_file_test("/sys/module/kvm_pvm", G_FILE_TEST_EXISTS)) {
    reason = g_strdup("/dev/kvm is backed by kvm_pvm, which cannot boot ordinary kernels");
  } else {
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
      reason = g_strdup_printf("/dev/kvm: %s", g_strerror(errno));
    else if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
      reason = g_strdup("/dev/kvm answers with an unknown API version");
    if (fd >= 0) close(fd);
  }
  if (!reason) {
    *kvm = TRUE;
    *why = NULL;
    return TRUE;
  }
  if (want == NL_ACCEL_KVM) {
    g_set_error(error, NL_ERROR, NL_ERROR_FAILED, "KVM is not usable: %s", reason);
    return FALSE;
  }
  *kvm = FALSE;
  *why = g_steal_pointer(&reason);
  return TRUE;
}
