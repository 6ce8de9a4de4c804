"""The web face: a Gradio app, one module per tab."""
