/* Which kernel implementation the public entry points run; see
 * mfl_kernels_select() in include/mfl/kernels.h. */
#include "dsp.h"
#include "mfl/error.h"
#include "mfl/kernels.h"

#ifdef MFL_DSP_NATIVE
static mfl_kernel_path_t selected = MFL_KERNELS_DSP;
#else
static mfl_kernel_path_t selected = MFL_KERNELS_PORTABLE;
#endif

int mfl_kernels_select(mfl_kernel_path_t path)
{
    if (path != MFL_KERNELS_PORTABLE && !(path == MFL_KERNELS_DSP && MFL_HAVE_DSP)) {
        return MFL_ERR_KERNEL_PATH;
    }
    selected = path;
    return 0;
}

mfl_kernel_path_t mfl_kernels_selected(void)
{
    return selected;
}
