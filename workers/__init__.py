"""RQ jobs that run models: test text, score explanations, mine campaigns, rescore.

Job functions live at module level and take plain, serialisable arguments; they
publish progress and results to the room (or player, or job channel) that asked.
"""
