"""From a trained model to a service: watching the data a deployed model receives (:mod:`labkit.serving.drift`)."""
