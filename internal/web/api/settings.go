package api

func (s *Server) settingsRoutes() {}
