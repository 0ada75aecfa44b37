"""Figure code of the chapters, one module per chapter; style and saving in ``figures``."""
