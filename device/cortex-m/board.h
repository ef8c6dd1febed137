/*
 * The mps2-an386 board as the firmware uses it: the CMSDK APB timer 0 as a
 * 25 MHz free-running counter (under QEMU with -icount shift=6 every guest
 * instruction advances it by exactly 1.6 ticks, so instructions =
 * ticks / 1.6), and the stack's high-water mark.
 */
#ifndef MFL_BOARD_H
#define MFL_BOARD_H

#include <stdint.h>

void board_timer_start(void);
uint32_t board_ticks(void);                  /* increasing */
static inline uint64_t board_instructions(uint32_t ticks)
{
    return ((uint64_t)ticks * 10u + 8u) / 16u;
}
/* Bytes of stack ever used since reset (the reset handler paints it). */
uint32_t board_stack_high_water(void);

#endif /* MFL_BOARD_H */
