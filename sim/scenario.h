/*
 * A simulation scenario: the population of virtual devices, their data,
 * the regions they live in, the strategies to compare and how the run
 * talks to the aggregator. Read from a `key = value` file (docs/sim.md
 * lists every key) and overridden by `--set key=value` flags.
 */
#ifndef MFL_SIM_SCENARIO_H
#define MFL_SIM_SCENARIO_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define SIM_MAX_REGIONS 8
#define SIM_CLASSES 10
#define SIM_MAX_AGG_KEYS 16

enum sim_partition { SIM_IID, SIM_DIRICHLET, SIM_REGION_SHIFT };
enum sim_mode { SIM_INPROCESS, SIM_NETWORK };
/* docs/sim.md "Strategies": the baselines that learn nothing (frozen, and
 * frozen with each device's inputs standardised or its first convolution
 * recalibrated), local learning (on either backbone), federated learning
 * of the head (plain,
 * group-balanced, on recalibrated backbones, and on recalibrated backbones
 * with each device choosing between the shipped, global and its own head
 * on held-out samples), and the references (the
 * head trained centrally to convergence, on the base or recalibrated
 * backbones; and, appended last so that outputs keep their order, the
 * whole network fine-tuned centrally: what learning below the head could
 * buy at best). */
enum sim_strategy {
    SIM_FROZEN,
    SIM_STANDARDIZED,
    SIM_RECALIBRATED,
    SIM_LOCAL,
    SIM_LOCAL_RECAL,
    SIM_FEDERATED,
    SIM_FAIR,
    SIM_FEDERATED_RECAL,
    SIM_PERSONALIZED,
    SIM_ORACLE,
    SIM_ORACLE_RECAL,
    SIM_LOCAL_TUNED,
    SIM_FEDERATED_TUNED,
    SIM_ORACLE_FULL,  /* references below the head: the base network fine-tuned centrally (float), */
    SIM_ORACLE_BIAS,  /* every layer, or every layer's biases and the head, */
    SIM_ORACLE_DENSE, /* or the dense layers only, */
    SIM_ORACLE_LASTCONV, /* or the dense layers and the last convolution; off by default (slow) */
    SIM_LOCAL_DENSE,     /* devices also learn their feature layer's weights (mfl_weight_tune_t), alone */
    SIM_FEDERATED_DENSE, /* or with a federated head, keeping that layer (LG-FedAvg); off by default */
    SIM_FEDERATED_DENSE_SHARED, /* or sharing that layer too, aggregated beside the protocol: an estimate
                                 * (shared_layer.h); off by default */
    SIM_STRATEGIES
};

/* How a region's sensors see the world, which classes are common there and
 * how often its devices are online. The fields after `share` are the
 * optional `key=value` words of a `region` line (docs/sim.md); their zero
 * values (availability: negative) leave the sensor and prior as a line
 * without them gives, bit for bit. The sensor applies them in the order
 * of the physics: scene (invert, pose, occluder), optics (blur), then the
 * sensor's gain, offset and noise. */
typedef struct {
    char name[24];
    double contrast;    /* pixel' = offset + contrast * pixel (+ noise) */
    double offset;
    double noise;       /* standard deviation of additive sensor noise, in pixel levels */
    double rare_weight; /* prior weight of the scenario's rare classes (others: 1) */
    double share;       /* relative number of devices living there */
    uint8_t invert;     /* 1: the scene is seen as 255 - pixel */
    double rotate;      /* each image turned by a uniform angle in [-rotate, rotate] degrees */
    uint32_t shift;     /* and moved by whole pixels in [-shift, shift] on each axis */
    uint32_t occlude;   /* side of a square patch (pixels) set to occlude_value; 0: none */
    double occlude_value;
    uint32_t blur;      /* box blur radius in pixels: the mean of a (2r+1)^2 window; 0: none */
    double prior[SIM_CLASSES]; /* class weights, multiplied into rare_weight's (default 1) */
    double availability; /* probability a device is online in a round; < 0: the scenario's */
} sim_region_t;

typedef struct {
    uint64_t seed;
    uint32_t devices, rounds, threads;
    enum sim_partition partition;
    double alpha;                /* Dirichlet concentration */
    uint32_t n_regions;
    sim_region_t regions[SIM_MAX_REGIONS];
    uint8_t rare[SIM_CLASSES];   /* 1: rare in the home region (region 0) */
    double availability;         /* probability a device is online in a round */
    double dropout;              /* probability an online device drops before its update arrives */
    uint32_t train_per_device;   /* labelled samples a device collects over the run */
    uint32_t samples_per_round;  /* of which it collects this many per online round */
    uint32_t test_per_device;
    uint32_t pool_per_region;    /* distinct training images per region */
    /* base model: trained on the home region only */
    char base[1024];             /* .mfl path; trained and written there if missing */
    char base_arch[128];
    uint32_t base_images, base_epochs;
    /* learning on devices */
    double lr;
    double bias_lr;              /* local-tuned, federated-tuned: the feature layer's biases' learning rate */
    double weight_lr;            /* local-dense, federated-dense: its weights' learning rate, per input code */
    uint32_t local_epochs, batch, replay;
    /* aggregation */
    uint32_t buffer_k;           /* 0: half the devices expected to deliver per round */
    uint32_t concurrency;        /* devices learning at the same time; 0: buffer_k */
    uint32_t max_staleness;
    double server_lr;
    uint32_t oracle_epochs;      /* 0: until converged (docs/sim.md) */
    uint32_t recal_inputs;       /* unlabelled inputs a device adapts its backbone from */
    uint32_t top_k;              /* update sparsity: the k largest head entries (0 = dense) */
    /* any other aggregator setting, `agg.KEY = VALUE` (docs/aggregator.md's
     * keys: rule, trim_fraction, clip_norm, max_delta_norm, sample_cap,
     * staleness_exponent, ...), written into each aggregator's file */
    uint32_t n_agg;
    char agg_key[SIM_MAX_AGG_KEYS][32];
    char agg_value[SIM_MAX_AGG_KEYS][128];
    /* run */
    enum sim_mode mode;
    uint8_t strategies[SIM_STRATEGIES]; /* 1: compared in this run (default: all but the fine-tuned
                                         * references and the dense strategies, which take minutes:
                                         * sim_strategy_default_on) */
    char data_dir[1024];         /* Fashion-MNIST IDX files ("" = Debian's) */
    char aggregator[1024];       /* mfl-aggregator binary (network mode) */
} sim_scenario_t;

void sim_scenario_defaults(sim_scenario_t *s);
/* Reads a scenario file on top of the current values. Returns 0, or -1
 * with a sentence naming the file, line and key in msg. */
int sim_scenario_load(sim_scenario_t *s, const char *path, char *msg, size_t cap);
/* One `key=value` setting (a --set flag). *regions_replaced starts at 0
 * for a command line: its first `region` replaces the regions in force,
 * later ones add to it, as lines of a file do. */
int sim_scenario_set(sim_scenario_t *s, const char *key, const char *value, int *regions_replaced, char *msg,
                     size_t cap);
/* Checks the values hang together (after loading and overrides). */
int sim_scenario_check(const sim_scenario_t *s, char *msg, size_t cap);

/* The region device `index` lives in: contiguous blocks sized by the
 * regions' shares (equal shares: a quarter each for four regions). */
uint32_t sim_region_of(const sim_scenario_t *s, uint32_t index);
/* The probability that a device of `region` is online in a round: the
 * region's `availability=` word, else the scenario's `availability`. */
double sim_region_availability(const sim_scenario_t *s, uint32_t region);
/* buffer_k and concurrency with their automatic values resolved. */
uint32_t sim_buffer_k(const sim_scenario_t *s);
uint32_t sim_concurrency(const sim_scenario_t *s);

/* The fine-tuned references, for messages. */
#define SIM_FINETUNED_NAMES "oracle-full, oracle-bias, oracle-dense and oracle-lastconv"

const char *sim_strategy_name(enum sim_strategy k);
/* 1 for the strategies a run compares unless `strategies` says otherwise:
 * all but the fine-tuned references (SIM_FINETUNED_NAMES), which train
 * the network for minutes, and local-dense and federated-dense, whose
 * devices each learn a 32,768-weight layer. */
int sim_strategy_default_on(enum sim_strategy k);
/* 1 for the fine-tuned references (sim/finetune.h). */
int sim_strategy_finetuned(enum sim_strategy k);
/* 1 for the strategies that run an aggregator (federated, fair, federated-recal, personalized). */
int sim_strategy_federated(enum sim_strategy k);
/* 1 if devices of k tune their feature layer (its biases, or its weights
 * and biases): it needs a dense layer right below the head. */
int sim_strategy_tuned(enum sim_strategy k);
/* 1 when a selected strategy runs an aggregator. */
int sim_any_federated(const sim_scenario_t *s);

/* Every key with the value in force (defaults, automatic buffer_k and
 * concurrency resolved), in the file format: loading it gives the same
 * run. Returns 0 or -1 (a write error). */
int sim_scenario_write(const sim_scenario_t *s, FILE *f);
/* The inputs the base model is made from, as one line of text: the key
 * under which a trained base is cached (world.c). */
void sim_base_inputs(const sim_scenario_t *s, char *out, size_t cap);
const char *sim_partition_name(enum sim_partition p);

#endif /* MFL_SIM_SCENARIO_H */
