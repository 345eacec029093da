"""replace"""
