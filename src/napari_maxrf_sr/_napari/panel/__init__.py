"""The parts of the super-resolution panel, one job per module.

Qt-free: :mod:`.session` (the model of the panel's runs that the widget wraps: inputs
chosen, settings, state, result), :mod:`.inputs` (which layers are maps, which is the
photo, element names), :mod:`.jobs` (what the worker runs), :mod:`.terms` (loss terms
in plain words), :mod:`.texts` (every sentence the panel says), :mod:`.outcome`
(the finished run, computed in the worker thread) and :mod:`.element_view` (one
element at a time in the viewer).
Qt: :mod:`.sections` (scrolling, folding sections), :mod:`.form` (settings and their
persistence), :mod:`.controller` (the worker: start, pause, stop, cancel, retry on
the CPU), :mod:`.results_view` (layers, metrics, comparison view),
:mod:`.element_row` (the Show row: the elements one at a time) and
:mod:`.feeder` (adds layers a few at a time). ``sr_widget.py`` composes them.
"""
