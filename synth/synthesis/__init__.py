"""Model-written environments: an agent writes database, tools, tasks, solutions and
verifiers in a sandboxed folder; the pipeline checks every level and loads accepted ones as an
environment family (`synthesized:PATH`) under the same contract as procedural families."""
