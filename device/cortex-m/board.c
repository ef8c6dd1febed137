/* Timer and stack measurement on mps2-an386 (board.h). */
#include "board.h"

#define TIMER0_BASE 0x40000000u
#define TIMER_CTRL (*(volatile uint32_t *)(TIMER0_BASE + 0x00))
#define TIMER_VALUE (*(volatile uint32_t *)(TIMER0_BASE + 0x04))
#define TIMER_RELOAD (*(volatile uint32_t *)(TIMER0_BASE + 0x08))

#define STACK_PAINT 0xA5A5A5A5u

extern uint32_t __stack_limit, __stack_top;

void board_timer_start(void)
{
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xFFFFFFFFu;
    TIMER_VALUE = 0xFFFFFFFFu;
    TIMER_CTRL = 1; /* enable, counts down from the reload value */
}

uint32_t board_ticks(void)
{
    return 0xFFFFFFFFu - TIMER_VALUE;
}

uint32_t board_stack_high_water(void)
{
    const uint32_t *p = &__stack_limit;
    while (p < &__stack_top && *p == STACK_PAINT) {
        p++;
    }
    return (uint32_t)((uintptr_t)&__stack_top - (uintptr_t)p);
}
