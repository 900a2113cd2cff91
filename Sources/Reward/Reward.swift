// The Reward target (see ../shared/DESIGN.md, "Targets and the direction of dependencies").
// Its contents arrive with issue 5; until then it only holds its place in the dependency graph.
