/* Command groups of the mfl tool; each returns the process exit status. */
#ifndef MFL_TOOLS_COMMANDS_H
#define MFL_TOOLS_COMMANDS_H

/* Exit statuses: 0 success, 1 the operation failed, 2 usage error. */
int mfl_cmd_model(int argc, char **argv);
int mfl_cmd_train(int argc, char **argv);
int mfl_cmd_quantize(int argc, char **argv);
int mfl_cmd_eval(int argc, char **argv);
int mfl_cmd_learn_demo(int argc, char **argv);
int mfl_cmd_keygen(int argc, char **argv);
int mfl_cmd_verify(int argc, char **argv);
int mfl_cmd_inspect(int argc, char **argv);
int mfl_cmd_update(int argc, char **argv);
int mfl_cmd_device(int argc, char **argv);

#endif
