"""omero.sys.Principal: the name, group and event type of a session to create."""


class Principal(object):
    def __init__(self, name=None, group=None, eventType=None):
        self.name, self.group, self.eventType = name, group, eventType
