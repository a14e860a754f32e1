"""The paper's algorithm, with no LangGraph state: the plan and its references, the incremental
parser, the planner, the task fetching unit, the joiner, their prompts, the toolbox and the
custom events. The LangGraph glue (state, nodes, handoff, graph) builds on this package; nothing
here imports it."""
