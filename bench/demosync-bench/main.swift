// Placeholder: the bench helper program (Kafka round trip and HTTP echo baselines) goes here.
print("demosync-bench")
