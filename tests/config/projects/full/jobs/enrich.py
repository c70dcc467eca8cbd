def run(inputs):
    return inputs
