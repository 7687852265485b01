"""Upper bounds on what one spec or build may ask for, in one place (the README lists them).

They keep the cost of a hostile or generated spec bounded: every build step and mount lands on one
ExecOp, every spec test is one Solve, and every named context is a frontend option to look at.
"""

MAX_BUILD_STEPS = 1000  # build.steps
MAX_STEP_MOUNTS = 256  # mounts of one build step, test or image source command
MAX_BUILD_OP_MOUNTS = 1024  # every cache and step mount on the one build op
MAX_TESTS = 256  # spec tests of one target (root tests plus the target's)
MAX_NAMED_CONTEXTS = 256  # context:<name> frontend options (--build-context)
